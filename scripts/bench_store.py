"""Figures for the team label store: several annotator processes labeling one store at once.

Each process (multiprocessing, spawn) opens the store by URL, then leases ``--batch`` items at a time and labels
them one by one (every label its own transaction) until nothing is left; the script checks that every item was
labeled exactly once (disjoint leases, nothing lost) and prints labels/s per process and in total, for the JSONL
file (one process: it has no leases), SQLite, and PostgreSQL when its server binaries are found (a throw-away
server in a temp folder on a Unix socket; as root it runs as the ``postgres`` user).

    python scripts/bench_store.py --workers 4 --items 400
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

NAMES = ["cat", "dog", "bird"]


def _annotator(url: str, name: str, items: int, batch: int, go: mp.synchronize.Event, out: mp.Queue) -> None:
    from alnb.store import LabelStore

    store = LabelStore(url, NAMES)
    out.put(("ready", name))
    go.wait()
    began, done = time.perf_counter(), []
    while batch_items := store.lease(range(items), batch, annotator=name, ttl=300):
        for i in batch_items:
            store.label(i, i % len(NAMES), annotator=name)
            done.append(i)
    out.put(("done", name, done, time.perf_counter() - began))
    store.close()


def run_team(url: str, workers: int, items: int, batch: int) -> None:
    from alnb.store import LabelStore

    LabelStore(url, NAMES).close()
    ctx = mp.get_context("spawn")
    go, out = ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=_annotator, args=(url, f"a{w}", items, batch, go, out)) for w in range(workers)
    ]
    for p in procs:
        p.start()
    for _ in procs:
        assert out.get(timeout=300)[0] == "ready"
    start = time.perf_counter()
    go.set()
    results = [out.get(timeout=600) for _ in procs]
    total = time.perf_counter() - start
    for p in procs:
        p.join(timeout=60)
    labeled = sorted(i for r in results for i in r[2])
    assert labeled == list(range(items)), "an item was lost or labeled twice"
    store = LabelStore(url, NAMES)
    assert len(store.labels) == items and not store.conflicts()
    store.close()
    for _, name, done, seconds in sorted(results, key=lambda r: r[1]):
        print(f"  {name}: {len(done):5d} labels in {seconds:6.2f} s = {len(done) / seconds:7.1f} labels/s")
    print(f"  {workers} processes: {items} labels in {total:.2f} s = {items / total:.1f} labels/s together")


def run_single_file(path: Path, items: int) -> None:
    from alnb.store import LabelStore

    store = LabelStore(path, NAMES)
    start = time.perf_counter()
    for i in range(items):
        store.label(i, i % len(NAMES))
    seconds = time.perf_counter() - start
    print(
        f"  1 process: {items} labels in {seconds:.2f} s = {items / seconds:.1f} labels/s (fsync per label)"
    )


@contextmanager
def postgres_server() -> Iterator[str | None]:
    """A throw-away PostgreSQL server (trust auth, no TCP); yields its URL base, or None without binaries."""
    found = shutil.which("pg_ctl")
    candidates = (
        [Path(found).resolve().parent] if found else sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    )
    bindir = next((b for b in reversed(candidates) if (b / "initdb").exists()), None)
    if bindir is None:
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix="alnb-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        import pwd

        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data = folder / "data"
    run = {"check": True, "capture_output": True, "timeout": 120}
    subprocess.run([*prefix, str(bindir / "initdb"), "-D", str(data), "-U", "alnb", "-A", "trust"], **run)
    options = f"-k {folder} -c listen_addresses=''"
    log = str(folder / "log")
    subprocess.run(
        [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-l", log, "-w", "-o", options, "start"], **run
    )
    try:
        yield f"postgresql://alnb@/postgres?host={folder}"
    finally:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], **run)
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--items", type=int, default=400)
    parser.add_argument("--batch", type=int, default=10, help="items per lease")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        print(f"JSONL file, {args.items} labels:")
        run_single_file(Path(tmp) / "labels.jsonl", args.items)
        print(f"SQLite, {args.workers} annotators, {args.items} labels, leases of {args.batch}:")
        run_team(f"sqlite:///{tmp}/labels.db", args.workers, args.items, args.batch)
        with postgres_server() as pg:
            if pg is None:
                print("PostgreSQL: server binaries not found, skipped", file=sys.stderr)
                return
            print(f"PostgreSQL, {args.workers} annotators, {args.items} labels, leases of {args.batch}:")
            run_team(pg, args.workers, args.items, args.batch)


if __name__ == "__main__":
    main()
