"""Runs ``handover serve --demo`` as a real subprocess in a scratch folder, for whole-flow tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.factories import DEMO_DIR, ROOT
from tests.services import free_port, processes


class DemoHub:
    def __init__(self, workdir: Path, database_url: str | None = None) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.config = workdir / "hub.toml"
        url = database_url or f"sqlite+aiosqlite:///{workdir}/var/handover.db"
        self.config.write_text(
            f'data_dir = "var"\ndemo_dir = "{DEMO_DIR}"\n'
            f'[database]\nurl = "{url}"\n[web]\nport = {self.port}\n'
            "[intake]\nquiet_seconds = 0.3\nrescan_seconds = 5.0\n"
            '[connectors.outbox]\nkind = "local"\nroot = "var/outbox"\n'
            'jurisdiction = { country = "jp", region = "t" }\n'
            '[connectors.dvd]\nkind = "media"\nroot = "var/media"\n'
            'jurisdiction = { country = "jp", region = "t" }\n',
            encoding="utf-8",
        )
        self.log = workdir / "hub.log"
        self.process: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(ROOT)}

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "exchange", "--config", str(self.config), *args],
            cwd=self.workdir,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=120,
        )

    def start(self, *, demo: bool = True) -> None:
        args = ["serve", "--demo"] if demo else ["serve"]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "exchange", "--config", str(self.config), *args],
                cwd=self.workdir,
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"hub exited: {self.log.read_text(encoding='utf-8', errors='replace')}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("hub did not come up within 60 s")

    def kill(self) -> None:
        processes.kill(self.process)

    def stop(self) -> None:
        processes.stop(self.process)
