"""Administration: starting the hub and loading its data.

* ``bootstrap`` — open the database, first-time initialisation (keys, schema, first admin)
* ``data_import`` — parties, people, programs, contracts and routes from TOML, idempotently
* ``routes_view`` — routes with their contracts and recipients, for the CLI and the portal
"""
