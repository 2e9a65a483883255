"""Running hub processes: each writes a heartbeat row while it runs, so processes without a listener can be checked.

One row per running process (``handover serve``): which roles it runs, where (host name, process id), since when,
when it last beat, and the state of each of its background loops. A stopping process removes its row; a killed
one leaves it behind, and the row simply stops being live once ``last_beat`` is older than the operator's window.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from ledger.models.base import Base


class ProcessHeartbeat(Base):
    __tablename__ = "process_heartbeats"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Chosen by the process at start (a random id): a restarted process with a reused pid gets a row of its own.
    process_key: Mapped[str] = mapped_column(String(36), unique=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]
    roles: Mapped[list[str]] = mapped_column(JSON)
    started_at: Mapped[datetime]
    last_beat: Mapped[datetime] = mapped_column(index=True)
    # Component name → {"status": "ok"|"failing", "restarts": n, "since": ISO time, "error": Japanese message}.
    components: Mapped[dict[str, Any]] = mapped_column(JSON)
