"""Alembic migrations: the only way the schema is created or changed outside tests.

* ``env`` — the Alembic environment, run on the connection ``ledger.migrate`` hands over; it takes an advisory
  lock on PostgreSQL so two processes cannot migrate at once
* ``versions/`` — the revisions, loaded by Alembic by path: one baseline, then append-only. A revision never
  changes once it is on main; ``frozen.json`` holds the SHA-256 of each one (checked by
  ``tests/test_migrations.py``; add a new revision's line when you create it)
"""
