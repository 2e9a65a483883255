"""Benchmark: minimise a 350,000-row CP932 S1 extract for the printing sub-contractor, then pack it.

Prints the time of each step and the peak RSS. Target: minimise + pack within 10 s with flat memory.
Packing uses ``exchange.packing.packer.pack`` (AES-256 ZIP) when it is importable, else pyzipper AES as a stand-in.

    python bench/minimise.py [--rows N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import resource
import secrets
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from policies.dummy import write_dummy_csv
from policies.minimise import RecipientItems, minimise
from policies.plugins import seikatsu_hogo_tsuika as s1


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _pack(source: Path, records: int, dest: Path) -> str:
    password = secrets.token_urlsafe(16)
    try:
        from exchange.packing.packer import Manifest, PackSource, pack
    except ImportError:
        import pyzipper

        with pyzipper.AESZipFile(dest, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES) as zf:
            zf.setpassword(password.encode())
            zf.write(source, source.name)
        return "pyzipper AES-256 (stand-in)"
    manifest = Manifest("bench-1", "K-2026-001-S1", "印刷業務（再委託）", "見本印刷株式会社", datetime.now(UTC))
    pack([PackSource(source.name, source, records)], manifest, password, dest)
    return "exchange.packing.packer.pack (AES-256 ZIP)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=350_000)
    parser.add_argument("--keep", type=Path, help="directory to keep the files in (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        source, minimised, package = work / "extract.csv", work / "printer.csv", work / "printer.zip"

        started = time.perf_counter()
        write_dummy_csv(s1.PROGRAM, args.rows, source, "cp932")
        generated = time.perf_counter()
        print(
            f"generate  {args.rows:,} rows, {source.stat().st_size / 2**20:.1f} MiB CP932: {generated - started:.2f} s"
        )
        rss_before = _rss_mib()

        printer = RecipientItems(allowed=s1.SUBCONTRACTOR_ITEMS, drop=frozenset({"振込先口座情報"}))
        result = minimise(source, minimised, printer)
        minimised_at = time.perf_counter()
        print(
            f"minimise  {result.records:,} records -> {minimised.stat().st_size / 2**20:.1f} MiB: "
            f"{minimised_at - generated:.2f} s"
        )
        method = _pack(minimised, result.records or 0, package)
        packed = time.perf_counter()
        print(f"pack      {method} -> {package.stat().st_size / 2**20:.1f} MiB: {packed - minimised_at:.2f} s")
        print(f"minimise + pack: {packed - generated:.2f} s (target <= 10 s)")
        print(f"peak RSS: {_rss_mib():.0f} MiB (after generation: {rss_before:.0f} MiB)")


if __name__ == "__main__":
    main()
