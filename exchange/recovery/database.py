"""Copying the database out and back: SQLite through its online backup API, PostgreSQL through pg_dump/pg_restore.

SQLite's backup API (``sqlite3.Connection.backup``) copies pages under the database's own locking, so the copy is
one consistent state even while a running hub writes (WAL). PostgreSQL's ``pg_dump`` reads one snapshot. The
PostgreSQL tools get the connection as a libpq URL without the password, which goes in ``PGPASSWORD`` (never on a
command line that ``ps`` shows). Each function does blocking work: callers run it in a thread.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from urllib.parse import quote

from sqlalchemy.engine import URL, make_url

from ledger.db import sqlite_path

DUMP_NAME = "database.dump"
SQLITE_NAME = "handover.db"


class DatabaseCopyFailed(Exception):
    """A copy of the database could not be made or put back; the message is for the operator."""


def is_sqlite(url: str) -> bool:
    return sqlite_path(url) is not None


def sqlite_file(url: str) -> Path:
    path = sqlite_path(url)
    if path is None:
        raise ValueError(f"not a SQLite URL: {make_url(url).render_as_string(hide_password=True)}")
    return path


def copy_sqlite(source: Path, target: Path, *, at_rest: bool = False) -> None:
    """Copy the SQLite database ``source`` to the new file ``target`` (online: one consistent state).

    ``at_rest``: ``source`` is a backup copy that nothing writes, opened read-only without locks, so a set on
    read-only media restores too (SQLite would otherwise make its ``-shm`` file beside it).
    """
    if not source.exists():
        raise DatabaseCopyFailed(f"the SQLite database {source} does not exist")
    opened = sqlite3.connect(f"file:{quote(str(source))}?immutable=1", uri=True) if at_rest else sqlite3.connect(source)
    with contextlib.closing(opened) as src, contextlib.closing(sqlite3.connect(target)) as dst:
        # All pages in one step: one read transaction, which in WAL mode never blocks the hub's writers (a copy
        # in several steps would start over each time another connection writes, possibly forever).
        src.backup(dst)
    os.chmod(target, 0o600)


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URL without password for the PostgreSQL tools, and the environment that carries the password."""
    parsed: URL = make_url(url)
    env = dict(os.environ)
    if parsed.password is not None:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise DatabaseCopyFailed(
            f"{name} is not installed (PostgreSQL client tools): install them, or back up the database with "
            "your PostgreSQL tooling and leave out --pg-dump"
        )
    return found


def pg_dump(url: str, target: Path) -> None:
    """``pg_dump`` in custom format (one snapshot) into the new file ``target``."""
    dsn, env = _libpq(url)
    done = subprocess.run(
        [_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(target), "--dbname", dsn],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        target.unlink(missing_ok=True)
        raise DatabaseCopyFailed(f"pg_dump failed: {done.stderr.strip()}")
    os.chmod(target, 0o600)


def pg_restore(dump: Path, url: str) -> None:
    """``pg_restore`` of ``dump`` into the (empty) database ``url``, in one transaction: all or nothing."""
    dsn, env = _libpq(url)
    done = subprocess.run(
        [_tool("pg_restore"), "--no-owner", "--single-transaction", "--exit-on-error", "--dbname", dsn, str(dump)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise DatabaseCopyFailed(f"pg_restore failed: {done.stderr.strip()}")
