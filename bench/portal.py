"""Benchmark: portal download throughput against nginx serving the same file, in the same run.

    PYTHONPATH=$PWD python bench/portal.py --size-mb 1024 --clients 1,20

Sets up a throwaway hub (SQLite in a temporary directory, one contractor, one delivered package of
``--size-mb`` random bytes in the local blob store, an API token), runs the portal in a child process on a
loopback port and Debian's nginx (one worker, ``sendfile on``) with a temporary config on another, both serving
the same file (a hard link), then downloads the whole file with 1 and N concurrent clients from each: the hub
through ``/api/v1/packages/{id}/content`` (token auth, IP allowlist, policy, the count against the limit, the
register line, the audit rows at start and end of each transfer, the blob opened once and its verification
looked up by the file's identity, then sendfile). Both servers get one untimed download first (page cache warm
on both sides; the hub verifies the blob's SHA-256 once per process, printed apart as the cold first download).
The clients are plain sockets reading into a 4 MiB buffer in threads, cheap enough that the servers are what is
measured. Each case runs ``--rounds`` times, hub and nginx alternating; the best round of each is printed with
the ratio hub/nginx (target >= 1.0), and the ratio of the medians (on a loaded
machine single rounds vary a lot). Also prints the hub's peak RSS, the fixed cost of one download, and checks a
ranged resume (206, right bytes).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    # Run as ``python bench/portal.py``: bench/ first on the path would make bench/ledger.py shadow the ledger package.
    sys.path[0] = str(ROOT)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _make_file(path: Path, size_mb: int) -> str:
    block = os.urandom(1 << 20)
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for i in range(size_mb):
            chunk = block[i % 256 :] + block[: i % 256]
            out.write(chunk)
            digest.update(chunk)
    return digest.hexdigest()


async def _seed(url: str, path: Path, blob_root: Path, size: int, sha: str) -> tuple[str, str]:
    from exchange.delivery.package_blobs import package_key
    from exchange.identity import api_tokens
    from exchange.identity.accounts import hash_password
    from ledger.db import create_engine, session_factory
    from ledger.migrate import upgrade
    from ledger.models.base import new_public_id
    from ledger.models.contracts import Contract, Designation, DesignationRole, Program
    from ledger.models.packages import Package, PackageStatus
    from ledger.models.parties import Account, Party, PartyKind, Person, PersonRole

    engine = create_engine(url)
    await upgrade(engine)
    async with session_factory(engine).begin() as session:
        party = Party(code="a", name="bench", kind=PartyKind.CONTRACTOR, ip_allowlist=["127.0.0.1/32"])
        program = Program(code="p", name="bench", section="s")
        session.add_all([party, program])
        await session.flush()
        contract = Contract(
            code="c",
            name="bench",
            program_id=program.id,
            party_id=party.id,
            starts_on=date(2020, 1, 1),
            ends_on=date(2099, 1, 1),
            download_limit=10**9,
        )
        person = Person(code="h", party_id=party.id, name="bench", role=PersonRole.HANDLER)
        session.add_all([contract, person])
        await session.flush()
        session.add(Designation(contract_id=contract.id, person_id=person.id, role=DesignationRole.HANDLER))
        account = Account(
            login="h",
            role=PersonRole.HANDLER,
            person_id=person.id,
            password_hash=hash_password("x"),
            must_change_password=False,
        )
        session.add(account)
        public_id = new_public_id()
        # The hub serves the package from its blob store: the same file, linked under the package's key.
        blob = blob_root / package_key(public_id)
        blob.parent.mkdir(parents=True, exist_ok=True)
        os.link(path, blob)
        package = Package(
            public_id=public_id,
            contract_id=contract.id,
            status=PackageStatus.DELIVERED,
            zip_name="bench.zip",
            blob_key=package_key(public_id),
            size=size,
            sha256=sha,
            key_id="k",
            connector="outbox",
            download_limit=10**9,
            delivered_at=datetime.now(UTC),
        )
        session.add(package)
        await session.flush()
        token = api_tokens.create(session, account, "bench", now=datetime.now(UTC))
    await engine.dispose()
    return token, public_id


def serve_hub(url: str, port: int, blob_root: str) -> None:
    """Child process: the portal alone (no watcher or workers)."""
    from aiohttp import web

    from exchange.blobs.local import LocalBlobStore
    from exchange.web.app import create_app
    from exchange.web.context import PortalDeps
    from ledger.db import create_engine, session_factory

    async def main() -> None:
        engine = create_engine(url)
        runner = web.AppRunner(
            create_app(session_factory(engine), deps=PortalDeps(blobs=LocalBlobStore(Path(blob_root)))), access_log=None
        )
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        await asyncio.Event().wait()

    asyncio.run(main())


def _nginx(work: Path, file: Path, port: int) -> subprocess.Popen[bytes]:
    conf = work / "nginx.conf"
    conf.write_text(
        f"""daemon off; master_process off; worker_processes 1; pid {work}/nginx.pid; error_log {work}/error.log;
events {{ worker_connections 1024; }}
http {{ access_log off; sendfile on; tcp_nopush on;
  client_body_temp_path {work}/t1; proxy_temp_path {work}/t2; fastcgi_temp_path {work}/t3;
  uwsgi_temp_path {work}/t4; scgi_temp_path {work}/t5;
  server {{ listen 127.0.0.1:{port}; location = /bench.zip {{ alias {file}; }} }} }}
"""
    )
    return subprocess.Popen(["/usr/sbin/nginx", "-c", str(conf), "-p", str(work)])


async def _wait(url: str) -> None:
    async with aiohttp.ClientSession() as s:
        for _ in range(200):
            try:
                async with s.get(url) as r:
                    if r.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


def _fetch(port: int, path: str, headers: dict[str, str]) -> int:
    """One whole download over a fresh connection; the body's byte count (the bytes are read, not kept)."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{lines}\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            piece = sock.recv(65536)
            if not piece:
                raise RuntimeError(f"no answer from port {port}: {head!r}")
            head += piece
        header, _, body = head.partition(b"\r\n\r\n")
        if header.split(b" ", 2)[1] not in (b"200", b"206"):
            raise RuntimeError(f"port {port} answered {header!r}")
        found = re.search(rb"(?im)^content-length:\s*(\d+)", header)
        assert found is not None, header
        length, got = int(found.group(1)), len(body)
        buffer = memoryview(bytearray(4 << 20))
        while got < length and (n := sock.recv_into(buffer)):
            got += n
        return got


def _run(port: int, path: str, clients: int, size: int, headers: dict[str, str]) -> float:
    """MB/s of ``clients`` simultaneous whole downloads."""
    with ThreadPoolExecutor(clients) as pool:
        start = time.perf_counter()
        sizes = list(pool.map(lambda _: _fetch(port, path, headers), range(clients)))
        elapsed = time.perf_counter() - start
    assert all(s == size for s in sizes), sizes
    return clients * size / elapsed / 1e6


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measured(pid: int, port: int, path: str, clients: int, size: int, headers: dict[str, str]) -> tuple[float, float]:
    """MB/s of the run and the server's CPU seconds per GB sent (steadier than MB/s on a loaded machine)."""
    before = _cpu_seconds(pid)
    rate = _run(port, path, clients, size, headers)
    return rate, (_cpu_seconds(pid) - before) / (clients * size / 1e9)


def _latency_ms(port: int, path: str, headers: dict[str, str], times: int = 9) -> float:
    """Median milliseconds of a one-byte ranged download (for the hub a counted, audited one): what each download
    costs before and after its bytes, whatever its size."""
    spent = []
    for _ in range(times):
        start = time.perf_counter()
        assert _fetch(port, path, {**headers, "Range": "bytes=0-0"}) == 1
        spent.append((time.perf_counter() - start) * 1000)
    return sorted(spent)[times // 2]


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


async def bench(size_mb: int, client_counts: list[int], rounds: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-portal-"))
    try:
        file = work / "bench.zip"
        sha = _make_file(file, size_mb)
        size = file.stat().st_size
        url = f"sqlite+aiosqlite:///{work}/hub.db"
        token, package_id = await _seed(url, file, work / "blobs", size, sha)
        hub_port, nginx_port = _free_port(), _free_port()
        hub = subprocess.Popen(
            [
                sys.executable,
                "-c",
                f"from bench.portal import serve_hub; serve_hub({url!r}, {hub_port}, {str(work / 'blobs')!r})",
            ],
            cwd=ROOT,
        )
        nginx = _nginx(work, file, nginx_port)
        try:
            hub_path, nginx_path = f"/api/v1/packages/{package_id}/content", "/bench.zip"
            await _wait(f"http://127.0.0.1:{hub_port}/healthz")
            await _wait(f"http://127.0.0.1:{nginx_port}/none")
            auth = {"Authorization": f"Bearer {token}"}
            print(f"file: {size_mb} MiB on loopback; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
            print(f"hub pid {hub.pid}, nginx pid {nginx.pid}")
            print(f"hub peak RSS (VmHWM) before any download: {_hwm_kib(hub.pid) // 1024} MiB")
            cold = await asyncio.to_thread(_run, hub_port, hub_path, 1, size, auth)
            print(f"hub first download (the blob's SHA-256 verified, once per process): {cold:8.1f} MB/s")
            await asyncio.to_thread(_run, nginx_port, nginx_path, 1, size, {})
            for n in client_counts:
                hub_runs, nginx_runs = [], []
                for _ in range(rounds):
                    hub_runs.append(await asyncio.to_thread(_measured, hub.pid, hub_port, hub_path, n, size, auth))
                    nginx_runs.append(
                        await asyncio.to_thread(_measured, nginx.pid, nginx_port, nginx_path, n, size, {})
                    )
                (hub_rate, hub_cpu), (nginx_rate, nginx_cpu) = max(hub_runs), max(nginx_runs)
                print(
                    f"{n:3d} client(s): hub {hub_rate:8.1f} MB/s   nginx sendfile {nginx_rate:8.1f} MB/s   "
                    f"ratio hub/nginx {hub_rate / nginx_rate:.2f} (best rounds), "
                    f"{_median([r for r, _ in hub_runs]) / _median([r for r, _ in nginx_runs]):.2f} (medians)"
                    "   (all rounds: hub "
                    + " ".join(f"{r:.0f}" for r, _ in hub_runs)
                    + ", nginx "
                    + " ".join(f"{r:.0f}" for r, _ in nginx_runs)
                    + ")"
                )
                print(
                    f"     server CPU per GB sent in those rounds: hub {hub_cpu:.3f} s, nginx {nginx_cpu:.3f} s "
                    f"(ratio nginx/hub {nginx_cpu / hub_cpu:.2f})"
                )
            hub_ms = await asyncio.to_thread(_latency_ms, hub_port, hub_path, auth)
            nginx_ms = await asyncio.to_thread(_latency_ms, nginx_port, nginx_path, {})
            print(
                f"one-byte download, median of 9 (the fixed cost of each download: auth, count, register line, "
                f"audit rows): hub {hub_ms:.1f} ms, nginx {nginx_ms:.1f} ms"
            )
            print(f"hub peak RSS (VmHWM) after the downloads: {_hwm_kib(hub.pid) // 1024} MiB")
            async with aiohttp.ClientSession() as s:
                hub_url = f"http://127.0.0.1:{hub_port}{hub_path}"
                async with s.get(hub_url, headers={**auth, "Range": f"bytes={size - 1000}-"}) as r:
                    tail = await r.read()
            with file.open("rb") as f:
                f.seek(size - 1000)
                assert r.status == 206 and tail == f.read(), "resume failed"
            print("resume: Range request answered 206 with the right last 1000 bytes")
        finally:
            hub.terminate()
            nginx.terminate()
            hub.wait(10)
            nginx.wait(10)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--clients", default="1,20")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(bench(args.size_mb, [int(n) for n in args.clients.split(",")], args.rounds))


if __name__ == "__main__":
    main()
