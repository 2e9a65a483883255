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
* ``compliance`` — the compliance officer's read-only views
* ``compliance_reports`` — the compliance officer's report downloads and deletion certificates
* ``api`` — ``/api/v1`` with bearer tokens

Pages live in ``templates/``, the stylesheet in ``static/``.
"""
