"""Benchmark of the on-disk feature cache at pool scale: write, then a full-pool read in a fresh process.

Writes ``--rows`` x ``--dim`` float32 features (1M x 512 = 2 GB by default) into a ``FeatureCache`` folder in blocks of
16,384 rows (as the Trainer hands them over), then starts a new process, as a resumed session would, that opens the
folder, checks which pool rows are missing (this verifies every chunk's checksum), reads the whole pool with ``get()``
and scores it against a ``[dim, 100]`` class matrix. Prints times and the peak resident memory (RSS, which includes
the mapped file pages the read touched). Targets (issue 11): under 2.5 GB resident, the cached read under 2 s.

    python scripts/bench_cache.py                 # 1M x 512 under a temporary folder in /tmp, deleted afterwards
    python scripts/bench_cache.py --rows 100000   # smaller
    python scripts/bench_cache.py --memory        # also the in-memory cache (sessions without a folder)

The read runs from the page cache (the folder was just written); a first read from a cold disk adds the disk's
read time of the file size.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

KEY = ("bench-model", "bench-data", "column=image", "precision=no")
BLOCK = 16384


def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9  # Linux reports KiB


def _rss_split_gb() -> dict[str, float]:
    """Resident memory now, split into anonymous (heap) and file-backed (mapped cache pages the kernel may reclaim)."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("RssAnon", "RssFile"):
            fields[f"{name.lower()}_gb"] = int(value.split()[0]) * 1024 / 1e9
    return fields


def write(folder: Path, rows: int, dim: int) -> dict[str, Any]:
    from alnb.training import FeatureCache

    cache = FeatureCache(folder)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for first in range(0, rows, BLOCK):
        n = min(BLOCK, rows - first)
        cache.add(KEY, np.arange(first, first + n), rng.standard_normal((n, dim), dtype=np.float32))
    return {"write_s": time.perf_counter() - start, "write_peak_rss_gb": _peak_rss_gb()}


def read(folder: Path, rows: int, dim: int) -> dict[str, Any]:
    import torch

    from alnb.training import FeatureCache

    pool = np.arange(rows, dtype=np.int64)
    baseline = _peak_rss_gb()
    start = time.perf_counter()
    cache = FeatureCache(folder)
    missing = cache.missing(KEY, pool)  # opens the folder and verifies every chunk the pool touches
    assert len(missing) == 0, f"{len(missing)} rows missing"
    verified = time.perf_counter()
    features = cache.get(KEY, pool)
    got = time.perf_counter()
    classes = torch.randn(dim, 100, generator=torch.Generator().manual_seed(0))
    top = torch.empty(rows, dtype=torch.long)
    for first in range(0, rows, 65536):  # scoring in blocks, as the Trainer's batches do
        top[first : first + 65536] = (features[first : first + 65536] @ classes).argmax(1)
    scored = time.perf_counter()
    split = _rss_split_gb() if Path("/proc/self/status").is_file() else {}
    again = time.perf_counter()
    cache.get(KEY, pool).sum()  # a second full read: the pages are mapped already
    return {
        "open_and_verify_s": verified - start,
        "get_s": got - verified,
        "score_s": scored - got,
        "cached_full_read_s": got - start,
        "second_read_and_sum_s": time.perf_counter() - again,
        "read_peak_rss_gb": _peak_rss_gb(),
        "baseline_rss_gb": baseline,
        **{f"after_scoring_{name}": value for name, value in split.items()},
        "shape": list(features.shape),
        "checksum": float(top.float().mean()),
    }


def memory(folder: Path, rows: int, dim: int) -> dict[str, Any]:
    """The in-memory cache (sessions without a folder), for comparison: the same adds, then one full read."""
    from alnb.training import FeatureCache

    cache = FeatureCache()
    rng = np.random.default_rng(0)
    for first in range(0, rows, BLOCK):
        n = min(BLOCK, rows - first)
        cache.add(KEY, np.arange(first, first + n), rng.standard_normal((n, dim), dtype=np.float32))
    held = _peak_rss_gb()
    start = time.perf_counter()
    features = cache.get(KEY, np.arange(rows))  # one gather out of the blocks: a copy of every row
    return {
        "memory_get_s": time.perf_counter() - start,
        "memory_peak_rss_gb": _peak_rss_gb(),
        "memory_rss_before_get_gb": held,
        "memory_checksum": float(features[:, 0].mean()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--dir", type=Path, default=None, help="cache folder (default: a new one under /tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the folder afterwards")
    parser.add_argument("--memory", action="store_true", help="also time the in-memory cache's full read")
    parser.add_argument("--phase", choices=["write", "read", "memory"], default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase is not None:  # a child process: one phase, figures as JSON on stdout
        run_phase = {"write": write, "read": read, "memory": memory}[args.phase]
        print(json.dumps(run_phase(args.dir, args.rows, args.dim)))
        return 0
    folder = args.dir or Path(tempfile.mkdtemp(prefix="alnb-bench-cache-", dir="/tmp"))
    figures: dict[str, object] = {
        "rows": args.rows,
        "dim": args.dim,
        "gb_on_disk": args.rows * args.dim * 4 / 1e9,
    }
    try:
        for phase in ("write", "read", "memory") if args.memory else ("write", "read"):
            command = [sys.executable, __file__, "--phase", phase, "--dir", str(folder)]
            command += ["--rows", str(args.rows), "--dim", str(args.dim)]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                print(done.stderr, file=sys.stderr)
                return done.returncode
            figures.update(json.loads(done.stdout.strip().splitlines()[-1]))
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    for name, value in figures.items():
        print(f"{name:>24}: {value:.3f}" if isinstance(value, float) else f"{name:>24}: {value}")
    rss, seconds = figures["read_peak_rss_gb"], figures["cached_full_read_s"]
    print(f"targets: resident {rss:.2f} GB < 2.5 GB, cached full read {seconds:.2f} s < 2 s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
