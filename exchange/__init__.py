"""The hub itself: what happens to a file from the watched folder to the contractor, and everything around it.

* ``intake`` — watched folders, stability, the durable pipeline, preparation (checks, minimisation), results
* ``packing`` — AES-256 ZIPs (WinZip AE-2) with a manifest
* ``delivery`` — what a package may be used for now, endpoint access kept equal to designations, portal downloads,
  sealed packages in the blob store
* ``passwords`` — generation, release under the split-password rule, printed notice and e-mail channels
* ``keys`` — envelope sealing of secrets at rest, and of files (streamed into the blob store)
* ``blobs`` — the blob store: every byte the hub keeps, in a local folder or object storage
* ``identity`` — accounts, authorisation, lockout, TOTP, API tokens, invitations, the audit log
* ``inbound`` — files contractors upload through the portal
* ``retention`` — the retention sweep, hub and contractor deletion certificates, things to be returned
* ``oversight`` — incidents, inspections, access-log analysis, print logs
* ``duties`` — the scheduler of periodic duties, notices and mail
* ``admin`` — bootstrap (database, first start), data import, the routes view
* ``web`` — the portal (contractors, staff, compliance officer) and its JSON API
* ``cli`` — the ``handover`` command line, one module per command group
* ``hub`` — composition root: builds the running hub from settings
* ``settings`` — the typed, validated configuration
* ``contract_facts`` — database contracts as the plain facts the policies take
* ``logs`` — structured logging without secrets or personal data
* ``leases`` — the one lease and heartbeat on database rows, shared by the intake pipeline and the duties
* ``metrics`` — the operating figures for Prometheus, read from the database at scrape time
* ``roles`` — the parts one process may run (web, worker, scheduler) and which loop belongs to which
* ``heartbeats`` — each process's heartbeat row, and which processes of a role are alive
* ``folders`` — route and return folders kept relative to the data directory, resolved against it
* ``recovery`` — backup sets and restoring a hub from one (C-13)
* ``supervision`` — the one supervisor of background loops (restart with back-off, log) and the health they report
"""
