"""Alembic migrations: the only way the schema is created or changed outside tests.

``versions/`` starts from one baseline and is append-only: a revision never changes once it is on main, and
``frozen.json`` holds the SHA-256 of each one (checked by ``tests/test_migrations.py``; add a new revision's
line when you create it). ``env.py`` takes an advisory lock on PostgreSQL so two processes cannot migrate at once.
"""
