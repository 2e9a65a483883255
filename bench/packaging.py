"""Benchmark: the hub's AES-256 ZIP packer against 7-Zip, each figure with 7-Zip's from the same run.

    PYTHONPATH=$PWD python bench/packaging.py --sizes 1G,4G --stored-size 1G

Figures (issue 16's targets in brackets):

* **default level**, for each of ``--sizes``: a Japanese CSV (about half compressible: repeated field values
  mixed with random kanji) packed by the hub at its default level and by ``7zz a -tzip -mem=AES256 -mx=5``
  (7-Zip's default); MB/s, output size, and the ratios hub/7-Zip [speed >= 8x, output <= 102%].
* **stored**, ``--stored-size``: already-compressed input (random bytes named like a PDF scan, not counted as a
  table) packed by the hub at level 0 and by 7-Zip ``-mx=0``; MB/s and ratio [>= 2x and >= 500 MB/s].
* **peak RSS** of each run, for the largest CSV beside 7-Zip's [hub <= 64 MB at 4 GB].

The hub's time includes the package's proof (:mod:`exchange.packing.proof`: the ZIP read back, decrypted,
inflated, hashed and its CSV records counted); the child proves the finished package once more on its own to
show that share. Inputs are generated in a temporary directory on disk (free space is checked first) and
deleted afterwards.

Peak RSS is read from the child's own ``VmHWM`` (polled from /proc): ``ru_maxrss`` of a child, via
``RUSAGE_CHILDREN`` or ``wait4``, starts at the *parent's* RSS inherited at exec, so it cannot show a child
smaller than this script. The password is a fixed dummy, used only here and given to 7-Zip on stdin.
"""

from __future__ import annotations

import argparse
import inspect
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

src, dest, level, records = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]) or None
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


def generate_incompressible(path: Path, size: int) -> None:
    """Random bytes, as a scanned PDF is to deflate: nothing left to compress."""
    with path.open("wb") as out:
        for start in range(0, size, 16 << 20):
            out.write(random.randbytes(min(16 << 20, size - start)))


def show(run: Run, size: int) -> None:
    print(
        f"{run.tool:6} {run.mode:9} {size / run.seconds / 1e6:8.1f} MB/s  {run.seconds:7.1f} s  "
        f"cpu {run.cpu_seconds:7.1f} s  out {run.output_bytes / 1e6:9.1f} MB "
        f"({run.output_bytes / size:6.1%})  peak RSS {run.peak_rss / 1e6:6.1f} MB",
        flush=True,
    )


def run_pair(work: Path, src: Path, records: int, hub_level: int, seven_level: int, sevenzip: str) -> tuple[Run, Run]:
    """Pack ``src`` with the hub and with 7-Zip; print both lines, the proof's share, and return both runs."""
    size = src.stat().st_size
    mode = "stored" if hub_level == 0 else f"level {hub_level}"
    timings = work / "hub-timings.txt"
    hub = run_measured(
        [sys.executable, "-c", HUB_SCRIPT, str(src), str(work / "hub.zip"), str(hub_level), str(records), str(timings)],
        work / "hub.zip",
        "hub",
        mode,
    )
    (work / "hub.zip").unlink()
    pack_seconds, proof_seconds = map(float, timings.read_text().split())
    # Each line as soon as its run ends: a long 7-Zip run need not be waited for to read the hub's figures.
    show(hub, size)
    print(
        f"hub proof: {proof_seconds:.1f} s of the {pack_seconds:.1f} s pack ({size / proof_seconds / 1e6:.1f} MB/s"
        f"{f', {records} records counted' if records else ''}), {proof_seconds / pack_seconds:.0%} of it",
        flush=True,
    )
    seven = run_measured(
        [sevenzip, "a", "-tzip", "-mem=AES256", f"-mx={seven_level}", "-p", str(work / "7z.zip"), str(src)],
        work / "7z.zip",
        "7-Zip",
        f"-mx={seven_level}",
    )
    (work / "7z.zip").unlink()
    show(seven, size)
    return hub, seven


def free_space_check(work: Path, largest: int) -> None:
    # The input, the hub's ZIP and 7-Zip's ZIP (one at a time) at most, plus a margin.
    needed = 2 * largest + (1 << 30)
    free = shutil.disk_usage(work).free
    print(f"work dir {work}: {free / 1e9:.1f} GB free, {needed / 1e9:.1f} GB needed", flush=True)
    if free < needed:
        raise SystemExit("not enough free disk space for these sizes; pass smaller --sizes or another --dir")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1G,4G", help="CSV sizes for the default-level figure, e.g. 1G,4G or 300M")
    parser.add_argument("--stored-size", default="1G", help="size of the incompressible input for the stored figure")
    parser.add_argument("--level", type=int, default=None, help="hub deflate level (default: the packer's default)")
    parser.add_argument("--7z-level", dest="seven_level", type=int, default=5, help="7-Zip -mx level (default 5)")
    parser.add_argument("--dir", type=Path, default=None, help="work directory (default: a temporary one)")
    args = parser.parse_args(argv)
    sevenzip = shutil.which("7zz")
    if sevenzip is None:
        raise SystemExit("7zz (Debian package 7zip) is not installed")
    sys.path.insert(0, str(ROOT))
    from exchange.packing.packer import pack
    from exchange.packing.zipaes import deflate_engine

    level = args.level if args.level is not None else int(inspect.signature(pack).parameters["level"].default)
    sizes = [parse_size(s) for s in args.sizes.split(",") if s]
    stored_size = parse_size(args.stored_size)
    engine = getattr(deflate_engine(level), "__name__", "?")
    python = sys.version.split()[0]
    print(f"cpus={os.cpu_count()} hub level={level} ({engine}) 7-Zip -mx={args.seven_level} python={python}")
    summary: list[str] = []
    with tempfile.TemporaryDirectory(prefix="handover-bench-", dir=args.dir) as tmp:
        work = Path(tmp)
        free_space_check(work, max([*sizes, stored_size]))
        if stored_size:
            src = work / "スキャン.pdf"
            generate_incompressible(src, stored_size)
            print(f"\n== stored, {stored_size / 1e9:.2f} GB incompressible input")
            hub, seven = run_pair(work, src, 0, 0, 0, sevenzip)
            src.unlink()
            summary.append(
                f"stored        {stored_size / 1e9:5.2f} GB: hub {stored_size / hub.seconds / 1e6:7.1f} MB/s, 7-Zip "
                f"{stored_size / seven.seconds / 1e6:6.1f} MB/s, ratio {seven.seconds / hub.seconds:5.2f}x "
                f"[>= 2x, >= 500 MB/s]; cpu hub {hub.cpu_seconds:.1f} s, 7-Zip {seven.cpu_seconds:.1f} s"
            )
        largest: tuple[Run, Run] | None = None
        for size in sizes:
            src = work / "対象者一覧.csv"
            started = time.perf_counter()
            records = generate_csv(src, size)
            real = src.stat().st_size
            print(f"\n== default level, {real / 1e9:.2f} GB CSV (generated in {time.perf_counter() - started:.0f} s)")
            hub, seven = run_pair(work, src, records, level, args.seven_level, sevenzip)
            src.unlink()
            speed, out = seven.seconds / hub.seconds, hub.output_bytes / seven.output_bytes
            summary.append(
                f"default level {real / 1e9:5.2f} GB: hub {real / hub.seconds / 1e6:7.1f} MB/s, 7-Zip "
                f"{real / seven.seconds / 1e6:6.1f} MB/s, ratio {speed:5.2f}x [>= 8x]; output {out:6.1%} of 7-Zip's "
                f"[<= 102%]; cpu hub {hub.cpu_seconds:.1f} s, 7-Zip {seven.cpu_seconds:.1f} s"
            )
            largest = (hub, seven)
        if largest is not None:
            hub, seven = largest
            summary.append(
                f"peak RSS at {max(sizes) / 1e9:.2f} GB: hub {hub.peak_rss / 1e6:.1f} MB, 7-Zip "
                f"{seven.peak_rss / 1e6:.1f} MB, ratio {hub.peak_rss / seven.peak_rss:.2f}x [hub <= 64 MB]"
            )
    # A shared machine slows both tools, but not alike (the hub uses every core, 7-Zip one): say how busy it was.
    print(f"\n== summary (same run; load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus)")
    print("\n".join(summary))


if __name__ == "__main__":
    main()
