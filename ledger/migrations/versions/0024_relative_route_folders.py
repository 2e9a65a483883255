"""relative route folders: folders under the data directory are kept relative to it

Revision ID: 0024_relative_route_folders
Revises: 0022_process_heartbeats

Issue 15 (C-13): route folders (watched, quarantine, processed) and return folders were stored absolute, so a hub
restored from a backup onto another data directory watched — and emptied — the original's inbox. From now on a
folder under the data directory is stored relative to it and resolved against the running hub's own data
directory (``exchange.folders``); a folder elsewhere (an intranet share) stays absolute, and ``handover restore``
refuses it unless the operator maps it.

The data directory is not in the database: ``handover db upgrade`` and ``handover init`` pass it in
(``ledger.migrate.upgrade(..., data_dir=...)``). Without it (a bare Alembic run) nothing is rewritten; absolute
folders keep working as before. The downgrade makes relative folders absolute again when it is given the data
directory (an older handover would read a relative folder against its working directory).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from alembic import context, op

revision = "0024_relative_route_folders"
down_revision = "0022_process_heartbeats"
branch_labels = None
depends_on = None

_routes = sa.table(
    "routes",
    sa.column("id", sa.Integer()),
    sa.column("watch_dir", sa.String()),
    sa.column("quarantine_dir", sa.String()),
    sa.column("processed_dir", sa.String()),
)
_return_folders = sa.table("return_folders", sa.column("id", sa.Integer()), sa.column("path", sa.String()))
_FOLDERS = ((_routes, ("watch_dir", "quarantine_dir", "processed_dir")), (_return_folders, ("path",)))


def _data_dir() -> Path | None:
    given = context.config.attributes.get("data_dir")
    return Path(given) if given is not None else None


def _to_relative(value: str, data_dir: Path) -> str:
    try:
        return Path(value).relative_to(data_dir).as_posix() or "."
    except ValueError:
        return value


def _to_absolute(value: str, data_dir: Path) -> str:
    return value if Path(value).is_absolute() else str(data_dir / value)


def _rewrite(data_dir: Path, convert: Callable[[str, Path], str]) -> None:
    bind = op.get_bind()
    for table, names in _FOLDERS:
        columns = [table.c[name] for name in names]
        for row in bind.execute(sa.select(table.c.id, *columns)).all():
            converted = {
                name: convert(value, data_dir) for name, value in zip(names, row[1:], strict=True) if value is not None
            }
            changed = {name: value for name, value in converted.items() if value != row._mapping[name]}
            if changed:
                bind.execute(sa.update(table).where(table.c.id == row[0]).values(**changed))


def upgrade() -> None:
    data_dir = _data_dir()
    if data_dir is not None:
        _rewrite(data_dir, _to_relative)


def downgrade() -> None:
    data_dir = _data_dir()
    if data_dir is not None:
        _rewrite(data_dir, _to_absolute)
