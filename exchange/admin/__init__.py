"""Administration: starting the hub and loading its data.

* ``bootstrap`` — open the database, first-time initialisation (keys, schema, first admin)
* ``data_import`` — parties, people, programs, contracts and routes from TOML, idempotently
* ``subcontracts`` — sub-contract approvals: record, revoke, items within the parent's (C-06)
* ``sensitive_approvals`` — the ward's approvals for forbidden-category items; the screening policy per route (C-07)
* ``asp_credentials`` — LGWAN-ASP login details received out of band, password sealed (C-22)
* ``routes_view`` — routes with their contracts and recipients, for the CLI and the portal
* ``sealed_files_move`` — sealed files an older hub kept under its data directory, moved into the blob store
"""
