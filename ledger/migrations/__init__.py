"""Alembic migrations: the only way the schema is created or changed outside tests.

* ``env`` — the Alembic environment, run on the connection ``ledger.migrate`` hands over
* ``versions/`` — the revisions, loaded by Alembic by path
"""
