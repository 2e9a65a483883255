"""Benchmark: the hub's AES-256 ZIP packer against 7-Zip on large Japanese CSV files.

    python -m bench.packaging --sizes 1G,4G --level 6

For each size it generates a CSV (about half compressible: repeated field values mixed with random kanji)
in a temporary directory, then packs it with the hub (in a child process) and with
``7zz a -tzip -mem=AES256`` at the same deflate level, and both again in stored mode. It prints MB/s, output
size, CPU seconds and peak RSS, and the hub/7-Zip speed ratio. The hub's time includes the package's proof
(:mod:`exchange.packing.proof`: the ZIP read back, decrypted, inflated, hashed and its CSV records counted);
the child proves the finished package once more on its own to show that share, printed as the proof's
seconds, its ratio to the whole pack and what it adds to writing alone.

Peak RSS is read from the child's own ``VmHWM`` (polled from /proc): ``ru_maxrss`` of a child, via
``RUSAGE_CHILDREN`` or ``wait4``, starts at the *parent's* RSS inherited at exec, so it cannot show a child
smaller than this script. The password is a fixed dummy, used only here and given to 7-Zip on stdin.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

DUMMY_PASSWORD = "BenchOnlyDummyPassword2345"
ROOT = Path(__file__).resolve().parents[1]

SURNAMES = "佐藤 鈴木 高橋 田中 伊藤 渡辺 山本 中村 小林 加藤 吉田 山田 佐々木 山口 松本 井上 木村 林 斎藤 清水".split()
GIVEN = "太郎 花子 一郎 美咲 翔太 陽菜 大輔 由美 健太 さくら 直樹 恵子 拓也 愛子 誠 裕子".split()
TOWNS = "西新宿 歌舞伎町 高田馬場 大久保 百人町 北新宿 神楽坂 早稲田 四谷 市谷 落合 戸山".split()
KINDS = "生活扶助 住宅扶助 教育扶助 医療扶助 介護扶助".split()
KANJI = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]

HUB_SCRIPT = """
import sys, time
from datetime import UTC, datetime
from pathlib import Path
from exchange.packing.packer import Manifest, PackSource, pack, prove_packed

src, dest, level, records = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
password = sys.stdin.readline().strip()
manifest = Manifest("BENCH", "C-BENCH", "ベンチマーク", "委託先", datetime.now(UTC))
started = time.perf_counter()
result = pack([PackSource(src.name, src, records)], manifest, password, dest, level=level)
packed = time.perf_counter() - started
started = time.perf_counter()
with dest.open("rb") as fp:
    prove_packed(fp, password, result)
Path(sys.argv[5]).write_text(f"{packed} {time.perf_counter() - started}")
"""


def parse_size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper()
    if text[-1:] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def generate_csv(path: Path, size: int, seed: int = 2026) -> int:
    """Write about ``size`` bytes of CSV rows, sampled from a pool far larger than deflate's 32 KiB window;
    return the record count (the last row is whole, so the count is exact and the file decodes)."""
    rng = random.Random(seed)
    pool = [
        f"{rng.randrange(10**9):09d},{rng.choice(SURNAMES)} {rng.choice(GIVEN)},"
        f"東京都新宿区{rng.choice(TOWNS)}{rng.randint(1, 5)}丁目{rng.randint(1, 30)}番{rng.randint(1, 20)}号,"
        f"{rng.choice(KINDS)},{''.join(rng.choices(KANJI, k=30))},{rng.randrange(10**6)}\n".encode()
        for _ in range(100_000)
    ]
    written = 0
    records = 0
    with path.open("wb") as out:
        out.write("受付番号,氏名,住所,扶助の種類,備考,金額\n".encode())
        while written < size:
            block = b"".join(rng.choices(pool, k=20_000))
            if written + len(block) > size:
                block = block[: block.rfind(b"\n", 0, size - written) + 1] or block[: block.find(b"\n") + 1]
            out.write(block)
            written += len(block)
            records += block.count(b"\n")
    return records


@dataclass
class Run:
    tool: str
    mode: str
    seconds: float
    cpu_seconds: float
    output_bytes: int
    peak_rss: int


def _vmhwm(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    if "VmHWM:" not in status:
        return None
    return int(status.split("VmHWM:")[1].split()[0]) * 1024


def run_measured(argv: list[str], dest: Path, tool: str, mode: str) -> Run:
    dest.unlink(missing_ok=True)
    before = os.times()
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, cwd=ROOT)
    assert process.stdin is not None
    # 7-Zip asks twice when creating an archive; the hub reads one line.
    process.stdin.write(f"{DUMMY_PASSWORD}\n{DUMMY_PASSWORD}\n".encode())
    process.stdin.close()
    peak = 0
    while process.poll() is None:
        peak = max(peak, _vmhwm(process.pid) or 0)
        time.sleep(0.02)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"{tool} failed with exit code {process.returncode}")
    after = os.times()
    cpu = after.children_user + after.children_system - before.children_user - before.children_system
    return Run(tool, mode, seconds, cpu, dest.stat().st_size, peak)


def bench_size(work: Path, size: int, level: int, sevenzip: str) -> list[Run]:
    src = work / "対象者一覧.csv"
    started = time.perf_counter()
    records = generate_csv(src, size)
    size = src.stat().st_size
    print(f"\n== {size / 1e9:.2f} GB CSV generated in {time.perf_counter() - started:.0f} s", flush=True)
    runs: list[Run] = []
    for mode, lvl in ((f"deflate-{level}", level), ("stored", 0)):
        timings = work / "hub-timings.txt"
        hub = run_measured(
            [sys.executable, "-c", HUB_SCRIPT, str(src), str(work / "hub.zip"), str(lvl), str(records), str(timings)],
            work / "hub.zip",
            "hub",
            mode,
        )
        pack_seconds, proof_seconds = map(float, timings.read_text().split())
        seven = run_measured(
            [sevenzip, "a", "-tzip", "-mem=AES256", f"-mx={lvl}", "-p", str(work / "7z.zip"), str(src)],
            work / "7z.zip",
            "7-Zip",
            mode,
        )
        runs += [hub, seven]
        for run in (hub, seven):
            print(
                f"{run.tool:6} {run.mode:10} {size / run.seconds / 1e6:8.1f} MB/s  {run.seconds:7.1f} s  "
                f"cpu {run.cpu_seconds:7.1f} s  out {run.output_bytes / 1e6:9.1f} MB "
                f"({run.output_bytes / size:6.1%})  peak RSS {run.peak_rss / 2**20:6.1f} MiB",
                flush=True,
            )
        print(f"hub/7-Zip speed ratio ({mode}): {seven.seconds / hub.seconds:.2f}x", flush=True)
        print(
            f"hub proof ({mode}): {proof_seconds:.1f} s of the {pack_seconds:.1f} s pack "
            f"({size / proof_seconds / 1e6:.1f} MB/s, {records} records counted), "
            f"proof/pack ratio {proof_seconds / pack_seconds:.2f} (the proof adds "
            f"{proof_seconds / max(pack_seconds - proof_seconds, 1e-9):.0%} to writing alone)",
            flush=True,
        )
    src.unlink()
    return runs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1G,4G", help="comma-separated sizes, e.g. 1G,4G or 300M")
    parser.add_argument("--level", type=int, default=6, help="deflate level for both tools (1-9)")
    parser.add_argument("--dir", type=Path, default=None, help="work directory (default: a temporary one)")
    args = parser.parse_args(argv)
    sevenzip = shutil.which("7zz")
    if sevenzip is None:
        raise SystemExit("7zz (Debian package 7zip) is not installed")
    print(f"cpus={os.cpu_count()} level={args.level} python={sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="handover-bench-", dir=args.dir) as tmp:
        for size in (parse_size(s) for s in args.sizes.split(",")):
            bench_size(Path(tmp), size, args.level, sevenzip)


if __name__ == "__main__":
    main()
