"""Selection cost of ``cb`` and ``cbsq`` against the pool size (not a test): k-means seconds and whole-select seconds.

Synthetic pool of the right size: N items with ``--dim``-d Gaussian image features (512: a CLIP ViT-B), C classes
(default 10, as ``glyphs-xl``; ``--classes 47`` for DTD) with class text features of the same width, probabilities from
a random linear head (logits of standard deviation about 4). Two moments of a run are timed: round 0 (nothing labeled,
``4 · C`` clusters) and a later round with ``--labeled`` items labeled (``4 · C + labeled`` clusters). Each query asks
for C items, as C-PEAL's protocol does. "k-means" is the clustering alone (class-guided features included), "select"
the whole ``Strategy.select`` (validation, clustering and the cluster-balanced allocation), "cbsq" the whole selective
query (``select_selectively``: thresholds, a longer acquisition order and the split).

Usage::

    python scripts/bench_cb.py                          # N in 1k, 10k, 50k; C = 10
    python scripts/bench_cb.py --sizes 50000 --classes 47
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from alnb.predictions import Predictions
from alnb.strategies import ClusterBalanced, QueryContext, SelectiveClusterBalanced

__all__ = ["main", "synthetic"]


def synthetic(
    n: int, dim: int, num_classes: int, labeled: int, seed: int = 0
) -> tuple[Predictions, QueryContext]:
    """A pool of ``n`` items, the first ``labeled`` labeled; dataset indices are spread out (``3 * i + 1000``)."""
    gen = torch.Generator().manual_seed(seed)
    feats = torch.nn.functional.normalize(torch.randn(n, dim, generator=gen), dim=1)
    text = torch.randn(num_classes, dim, generator=gen)
    logits = 4.0 * feats @ torch.nn.functional.normalize(text, dim=1).T * dim**0.5
    indices = np.arange(n, dtype=np.int64) * 3 + 1000
    preds = Predictions(
        indices=indices, logits=logits, probs=logits.softmax(dim=1), embeddings=feats, text_features=text
    )
    rng = np.random.default_rng(seed)
    ctx = QueryContext(
        unlabeled=indices[labeled:],
        labeled=indices[:labeled],
        labels=rng.integers(num_classes, size=labeled),
        num_classes=num_classes,
        seed=seed,
    )
    return preds, ctx


def _seconds(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,50000", help="comma-separated pool sizes N")
    parser.add_argument("--dim", type=int, default=512, help="image (and text) feature width")
    parser.add_argument("--classes", type=int, default=10, help="number of classes C")
    parser.add_argument("--labeled", type=int, default=50, help="labeled items in the later round")
    parser.add_argument("--repeats", type=int, default=2, help="best of this many runs")
    args = parser.parse_args(argv)
    cb, cbsq = ClusterBalanced(), SelectiveClusterBalanced()
    c = args.classes
    print(f"d = {args.dim} (+ {args.dim} text), C = {c}, k = C per query; best of {args.repeats}; seconds")
    print(f"{'N':>7} {'round':>6} {'clusters':>8} {'k-means':>8} {'select':>8} {'cbsq':>8}  k-means kind")
    for n in (int(s) for s in args.sizes.split(",")):
        for labeled in (0, args.labeled):
            preds, ctx = synthetic(n, args.dim, c, labeled)
            rows = preds.positions(ctx.unlabeled)
            clusters = cb._cluster(preds, rows, ctx).n_clusters
            kmeans = _seconds(lambda: cb._cluster(preds, rows, ctx), args.repeats)  # noqa: B023
            select = _seconds(lambda: cb.select(preds, c, ctx), args.repeats)  # noqa: B023
            selective = _seconds(lambda: cbsq.select_selectively(preds, c, ctx), args.repeats)  # noqa: B023
            kind = "MiniBatchKMeans" if n > cb.minibatch_above else "KMeans"
            moment = "0" if labeled == 0 else f"{labeled} lab"
            print(f"{n:>7} {moment:>6} {clusters:>8} {kmeans:>8.2f} {select:>8.2f} {selective:>8.2f}  {kind}")


if __name__ == "__main__":
    main()
