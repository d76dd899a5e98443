"""One annotator of a shared label store, run as its own process by tests/test_store_sql.py.

``python store_worker.py URL NAME N K GO_FILE``: opens the store, prints ``ready``, waits until ``GO_FILE``
exists (so every worker starts at once), then leases up to ``K`` of the indices ``0..N-1`` at a time and labels
them one by one (each label its own transaction), until no index is left to lease. Prints one JSON line: the
annotator, the indices it labeled in order, the seconds it took and its start and end (POSIX time).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from alnb.store import LabelStore

NAMES = ["cat", "dog", "bird"]


def main() -> None:
    url, name, n, k, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), Path(sys.argv[5])
    store = LabelStore(url, NAMES)
    print("ready", flush=True)  # imports and connection done: the test starts everyone at once
    deadline = time.monotonic() + 120
    while not go.exists():
        if time.monotonic() > deadline:
            raise SystemExit("the go file never appeared")
        time.sleep(0.01)
    began, start = time.time(), time.perf_counter()
    done: list[int] = []
    while True:
        batch = store.lease(range(n), k, annotator=name, ttl=120)
        if not batch:
            break
        for i in batch:
            store.label(i, i % len(NAMES), annotator=name)
            done.append(i)
    seconds = time.perf_counter() - start
    result = {"annotator": name, "indices": done, "seconds": seconds, "began": began, "ended": time.time()}
    print(json.dumps(result), flush=True)
    store.close()


if __name__ == "__main__":
    main()
