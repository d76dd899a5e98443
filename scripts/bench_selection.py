"""Selection time and peak memory of entropy, BADGE and Coreset against the pool size (not a test).

Synthetic pool: N items with 512-d Gaussian features, C = 47 classes (DTD), probabilities from a random
linear head (logits of standard deviation about 4), 10 % of the pool labeled, k = 10 % of the pool (as C-PEAL
uses). BADGE is also run as a reference that materialises the N x (d*C) gradient embeddings (float64) and runs
the same k-means++ seeding on them, only for N <= --reference-max (5000): it is slow and takes ~1.7 GB at 5k.

Peak memory is measured with ``tracemalloc`` around the selection call: it counts every NumPy allocation
(NumPy reports its buffers to tracemalloc) but not torch's. The strategies do their arithmetic in NumPy; the
inputs (torch tensors) are built before measuring, so the figure is the strategy's own working memory.

Usage::

    python scripts/bench_selection.py                       # N in 1k, 5k, 10k, 50k
    python scripts/bench_selection.py --sizes 1000 --skip-reference
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from collections.abc import Callable

import numpy as np
import torch

from alnb.predictions import Predictions
from alnb.strategies import BADGE, Coreset, Entropy, QueryContext, Selection

__all__ = ["main", "materialised_badge"]

DIM, NUM_CLASSES = 512, 47


def synthetic(n: int, seed: int = 0) -> tuple[Predictions, QueryContext]:
    """A pool of ``n`` items, the first 10 % labeled; dataset indices are spread out (``3 * i + 1000``)."""
    gen = torch.Generator().manual_seed(seed)
    feats = torch.randn(n, DIM, generator=gen)
    head = torch.randn(DIM, NUM_CLASSES, generator=gen) / DIM**0.5
    logits = 4.0 * feats @ head
    probs = logits.softmax(dim=1)
    indices = np.arange(n, dtype=np.int64) * 3 + 1000
    preds = Predictions(indices=indices, logits=logits, probs=probs, embeddings=feats)
    n_lab = max(1, n // 10)
    rng = np.random.default_rng(seed)
    ctx = QueryContext(
        unlabeled=indices[n_lab:],
        labeled=indices[:n_lab],
        labels=rng.integers(NUM_CLASSES, size=n_lab),
        num_classes=NUM_CLASSES,
        seed=seed,
    )
    return preds, ctx


def materialised_badge(preds: Predictions, k: int, ctx: QueryContext) -> Selection:
    """BADGE the textbook way: build ``g_i = f_i ⊗ r_i`` (N x d*C float64) and run k-means++ seeding on it.

    Same sampling convention as :class:`~alnb.strategies.BADGE` (largest norm first, then an exponential race
    drawn from ``ctx.rng("badge")``), so with the same seed both pick the same items.
    """
    rows = preds.positions(ctx.unlabeled)
    feats = preds.embeddings[rows].double().numpy()
    probs = preds.probs[rows].double().numpy()
    resid = -probs
    resid[np.arange(len(probs)), probs.argmax(axis=1)] += 1.0
    grads = (feats[:, :, None] * resid[:, None, :]).reshape(len(rows), -1)
    sqnorm = np.einsum("ij,ij->i", grads, grads)
    rng = ctx.rng("badge")
    picks = [int(np.argmax(sqnorm))]
    d2 = np.full(len(rows), np.inf)
    chosen = np.zeros(len(rows), dtype=bool)
    for _ in range(1, k):
        centre = grads[picks[-1]]
        chosen[picks[-1]] = True
        d2 = np.minimum(d2, np.maximum(sqnorm - 2.0 * grads @ centre + centre @ centre, 0.0))
        keys = np.where(chosen, -1.0, d2 / rng.standard_exponential(size=len(rows)))
        picks.append(int(np.argmax(keys)))
    return Selection(ctx.unlabeled[picks], np.full(k, np.nan))


Runner = Callable[[Predictions, int, QueryContext], Selection]
RUNS: dict[str, Runner] = {
    "entropy": Entropy().select,
    "badge (factorised)": BADGE().select,
    "coreset": Coreset().select,
    "badge (materialised)": materialised_badge,
}


def measure(run: Runner, preds: Predictions, k: int, ctx: QueryContext) -> tuple[float, float, Selection]:
    """Seconds and tracemalloc peak (MiB) of one selection."""
    tracemalloc.start()
    start = time.perf_counter()
    result = run(preds, k, ctx)
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seconds, peak / 2**20, result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[1000, 5000, 10000, 50000], help="pool sizes N"
    )
    parser.add_argument(
        "--skip-reference", action="store_true", help="do not run the materialised BADGE reference"
    )
    parser.add_argument(
        "--reference-max", type=int, default=5000, help="largest N for the materialised reference"
    )
    args = parser.parse_args(argv)

    print(
        f"d={DIM}, C={NUM_CLASSES}, k=10% of N, 10% of N labeled; peak = tracemalloc peak (NumPy allocations)"
    )
    header = f"{'N':>7} {'k':>6} {'strategy':<22} {'seconds':>9} {'peak MiB':>9}  note"
    print(header)
    print("-" * len(header))
    for n in args.sizes:
        preds, ctx = synthetic(n)
        k = max(1, n // 10)
        labels = list(RUNS)
        if args.skip_reference or n > args.reference_max:
            labels.remove("badge (materialised)")
        results: dict[str, tuple[float, Selection]] = {}
        for label in labels:
            seconds, peak, selection = measure(RUNS[label], preds, k, ctx)
            results[label] = (seconds, selection)
            note = ""
            if label == "badge (materialised)":
                fast_s, fast_sel = results["badge (factorised)"]
                same = np.array_equal(fast_sel.indices, selection.indices)
                note = f"speed-up {seconds / fast_s:.0f}x; same picks: {same}"
            print(f"{n:>7} {k:>6} {label:<22} {seconds:>9.3f} {peak:>9.1f}  {note}", flush=True)


if __name__ == "__main__":
    main()
