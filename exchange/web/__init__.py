"""The portal: server-rendered pages for contractors, ward staff and the compliance officer, and the JSON API.

* ``app`` — the aiohttp application: middleware, health check, landing page, routes
* ``context`` — what every handler shares: dependencies, principal, CSRF, audit, rendering, the transaction
* ``guards`` — find the package or contract a page acts on, authorise, refuse
* ``responses`` — shared response helpers (downloads, ``Content-Disposition``)
* ``sessions`` — server-side login sessions
* ``auth`` — sign-in, second factor, invitations, lockout, logout
* ``contractor_packages`` — a contractor's packages: download, receipt, password pick-up
* ``contractor_uploads`` — a contractor's uploads (print logs, entered data)
* ``contractor_certificates`` — a contractor's deletion certificate form (C-04)
* ``staff`` — ward staff: deliveries, quarantine, designations, approvals, revoke and re-send
* ``sensitive_approvals`` — ward staff record an approval for forbidden-category items (C-07)
* ``accounts`` — the accounts page: list, disable and enable, unlock, end sessions, revoke API tokens (C-10)
* ``compliance`` — the compliance officer's read-only views
* ``compliance_reports`` — the compliance officer's report downloads and deletion certificates
* ``api`` — ``/api/v1`` with bearer tokens
* ``inbox`` — ward staff's inbox of what came back: list, show, download (recorded), release and discard
* ``inbox_chain`` — a contractor's view of its sub-contractors' uploads (the chain 丙→乙→甲)
* ``return_pickup`` — a return folder's ZIP: staff confirm its arrival and pick up its password
* ``inspections`` — inspection results (ward staff, and a contractor for its sub-contractor) and the report (C-19)
* ``incidents`` — incidents: staff open, file, instruct, unfreeze, close; contractors report and answer (C-18)
* ``compliance_audit`` — the access log by name, in Japanese, filtered, exported as CSV (C-11)
* ``compliance_findings`` — access-log findings of a fiscal year and their review (C-11)
* ``print_logs`` — the printer's print-log findings and reasons, deliveries of sealed notices (C-17)
* ``staff_printing`` — staff's print-log findings, delivery confirmations, paper hand-overs
* ``staff_certificates`` — staff review contractors' deletion certificates (C-04)
* ``staff_quarantine`` — staff release, discard or take out quarantined drops
* ``metrics`` — ``/metrics`` in Prometheus text format, for the operators' scrapers (``web.metrics_allow``)

Pages live in ``templates/``, the stylesheet in ``static/``.
"""
