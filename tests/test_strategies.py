"""Tests of alnb.strategies: a contract template (scikit-activeml style), one subclass per strategy."""

from __future__ import annotations

import tracemalloc
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np
import pytest
import torch

# The shared contract and its builders live in tests/contracts.py (also run on every registered strategy below).
from contracts import STRATEGY_CHECKS, contract_strategy, make_pool, make_predictions, strategy_matrix

from alnb.predictions import Predictions
from alnb.strategies import (
    BADGE,
    BALD,
    ClassBalanced,
    Coreset,
    Entropy,
    FeatDist,
    LeastConfidence,
    Margin,
    PowerEntropy,
    ProbCover,
    QueryContext,
    RandomSampling,
    Selection,
    Strategy,
    TopCandidates,
    TypiClust,
    ZeroShot,
    available,
    build_strategy,
    get_strategy,
    register_strategy,
    top_k,
)
from alnb.strategies import registry as registry_module
from alnb.strategies.probcover import estimate_delta

# ------------------------------------------------------------------------------------------------------------
# Builders


def context(unlabeled, labeled=(), labels=(), num_classes=4, **kw) -> QueryContext:
    return QueryContext(
        unlabeled=np.asarray(unlabeled, dtype=np.int64),
        labeled=np.asarray(labeled, dtype=np.int64),
        labels=np.asarray(labels, dtype=np.int64),
        num_classes=num_classes,
        **kw,
    )


def entropy_ref(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    out = np.zeros(len(p))
    for i, row in enumerate(p):
        out[i] = -sum(x * np.log(x) for x in row if x > 0)
    return out


def probs_np(preds: Predictions) -> np.ndarray:
    return preds.probs.double().numpy()


def emb_np(preds: Predictions) -> np.ndarray:
    return preds.embeddings.double().numpy()


# ------------------------------------------------------------------------------------------------------------
# The contract every strategy honours


class StrategyTemplate:
    """Shared contract tests; subclasses provide the ``strategy`` fixture and their own behaviour tests."""

    @pytest.fixture
    def strategy(self) -> Strategy:
        raise NotImplementedError

    @pytest.fixture
    def pool(self) -> tuple[Predictions, QueryContext]:
        return make_pool()

    @pytest.mark.parametrize("check", STRATEGY_CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
    def test_contract(self, strategy, pool, check):
        check(strategy, pool)


# ------------------------------------------------------------------------------------------------------------
# Score-based strategies


class TestRandom(StrategyTemplate):
    @pytest.fixture
    def strategy(self):
        return RandomSampling()

    def test_different_seeds_and_rounds_differ(self, strategy, pool):
        preds, ctx = pool
        picks = {tuple(strategy.select(preds, 5, replace(ctx, seed=s)).indices) for s in range(5)}
        picks |= {tuple(strategy.select(preds, 5, replace(ctx, round=r)).indices) for r in range(1, 5)}
        assert len(picks) == 9

    def test_roughly_uniform(self, strategy):
        preds = make_predictions(np.arange(10) * 7)
        ctx = context(preds.indices, num_classes=4)
        counts = np.zeros(10)
        for s in range(1000):
            counts[preds.positions(strategy.select(preds, 3, replace(ctx, seed=s)).indices)] += 1
        # Each item is picked with probability 3/10: 300 ± 4.3 standard deviations (14.5) over 1000 draws.
        assert np.all(np.abs(counts - 300) < 63)

    def test_scores_are_nan(self, strategy, pool):
        preds, ctx = pool
        assert np.all(np.isnan(strategy.select(preds, 4, ctx).scores))


class TestEntropy(StrategyTemplate):
    @pytest.fixture
    def strategy(self):
        return Entropy()

    def test_takes_the_highest_entropy_rows(self, strategy, pool):
        preds, ctx = pool
        ref = entropy_ref(probs_np(preds.subset(ctx.unlabeled)))
        sel = strategy.select(preds, 8, ctx)
        np.testing.assert_array_equal(sel.indices, ctx.unlabeled[np.argsort(-ref)[:8]])
        np.testing.assert_allclose(sel.scores, np.sort(ref)[::-1][:8], rtol=1e-12)

    def test_hand_computed_score(self, strategy):
        probs = np.array([[1.0, 0.0], [0.5, 0.5], [0.9, 0.1]])
        preds = make_predictions(np.array([3, 1, 2]), num_classes=2, probs=probs)
        scores = strategy.score(preds, context([3, 1, 2], num_classes=2))
        np.testing.assert_allclose(
            scores, [0.0, np.log(2), -(0.9 * np.log(0.9) + 0.1 * np.log(0.1))], rtol=1e-6
        )

    def test_ties_are_broken_by_the_seed(self, strategy):
        preds = make_predictions(np.arange(20) * 5, probs=np.full((20, 4), 0.25))
        ctx = context(preds.indices)
        picks = [tuple(strategy.select(preds, 3, replace(ctx, seed=s)).indices) for s in range(6)]
        assert len(set(picks)) > 1
        assert picks[0] == tuple(strategy.select(preds, 3, ctx).indices)


class TestMargin(StrategyTemplate):
    @pytest.fixture
    def strategy(self):
        return Margin()

    def test_smallest_top2_gap_first(self, strategy, pool):
        preds, ctx = pool
        p = np.sort(probs_np(preds.subset(ctx.unlabeled)), axis=1)
        gap = p[:, -1] - p[:, -2]
        sel = strategy.select(preds, 8, ctx)
        np.testing.assert_array_equal(sel.indices, ctx.unlabeled[np.argsort(gap)[:8]])
        np.testing.assert_allclose(sel.scores, -np.sort(gap)[:8], rtol=1e-6)

    def test_takes_the_most_uncertain_not_the_least(self, strategy):
        # C-PEAL's released code took the *least* uncertain with balancing off; pin the direction down.
        probs = np.array([[0.98, 0.01, 0.01], [0.40, 0.39, 0.21], [0.5, 0.3, 0.2]])
        preds = make_predictions(np.array([10, 20, 30]), num_classes=3, probs=probs)
        sel = strategy.select(preds, 3, context([10, 20, 30], num_classes=3))
        assert sel.indices.tolist() == [20, 30, 10]

    def test_needs_two_classes(self, strategy):
        preds = make_predictions(np.array([1, 2]), num_classes=1, probs=np.ones((2, 1)))
        with pytest.raises(ValueError, match="at least 2 classes"):
            strategy.select(preds, 1, context([1, 2], num_classes=1))


class TestLeastConfidence(StrategyTemplate):
    @pytest.fixture
    def strategy(self):
        return LeastConfidence()

    def test_lowest_max_probability_first(self, strategy, pool):
        preds, ctx = pool
        conf = probs_np(preds.subset(ctx.unlabeled)).max(axis=1)
        sel = strategy.select(preds, 8, ctx)
        np.testing.assert_array_equal(sel.indices, ctx.unlabeled[np.argsort(conf)[:8]])
        np.testing.assert_allclose(sel.scores, 1 - np.sort(conf)[:8], rtol=1e-6)

    def test_hand_computed(self, strategy):
        probs = np.array([[0.7, 0.3], [0.55, 0.45], [0.9, 0.1]])
        preds = make_predictions(np.array([4, 5, 6]), num_classes=2, probs=probs)
        sel = strategy.select(preds, 2, context([4, 5, 6], num_classes=2))
        assert sel.indices.tolist() == [5, 4]
        np.testing.assert_allclose(sel.scores, [0.45, 0.3], rtol=1e-6)


class TestBALD(StrategyTemplate):
    @pytest.fixture
    def strategy(self):
        return BALD()

    def test_matches_numpy_reference(self, strategy, pool):
        preds, ctx = pool
        s = preds.prob_samples.double().numpy()
        ref = np.zeros(len(s))
        for i in range(len(s)):  # H(mean over passes) - mean over passes of H, one row at a time
            mean = s[i].mean(axis=1)
            ref[i] = -np.sum(mean * np.log(mean)) - np.mean(
                [-np.sum(s[i, :, k] * np.log(s[i, :, k])) for k in range(s.shape[2])]
            )
        np.testing.assert_allclose(strategy.score(preds, ctx), ref, rtol=1e-9, atol=1e-12)
        rows = preds.positions(ctx.unlabeled)
        assert (
            strategy.select(preds, 5, ctx).indices.tolist()
            == ctx.unlabeled[np.argsort(-ref[rows])[:5]].tolist()
        )

    def test_hand_computed(self, strategy):
        samples = torch.tensor([[[1.0, 0.0], [0.0, 1.0]], [[0.5, 0.5], [0.5, 0.5]]])  # [N=2, C=2, K=2]
        preds = Predictions(
            indices=np.array([8, 9]),
            logits=torch.zeros(2, 2),
            probs=samples.mean(dim=2),
            prob_samples=samples,
        )
        # Disagreeing confident passes: ln 2 of mutual information; agreeing uncertain passes: none.
        np.testing.assert_allclose(
            strategy.score(preds, context([8, 9], num_classes=2)), [np.log(2), 0.0], atol=1e-7
        )


class TestPowerEntropy(StrategyTemplate):
    @pytest.fixture
    def strategy(self):
        return PowerEntropy()

    def test_scores_are_the_entropies_of_the_picks(self, strategy, pool):
        preds, ctx = pool
        sel = strategy.select(preds, 6, ctx)
        np.testing.assert_allclose(sel.scores, entropy_ref(probs_np(preds.subset(sel.indices))), rtol=1e-6)

    def test_large_beta_is_entropy_sampling(self, pool):
        preds, ctx = pool
        got = PowerEntropy(beta=1e4).select(preds, 5, ctx).indices
        np.testing.assert_array_equal(got, Entropy().select(preds, 5, ctx).indices)

    def test_draw_probability_is_proportional_to_entropy(self, strategy):
        probs = np.array([[0.5, 0.5], [0.9, 0.1], [0.99, 0.01], [1.0, 0.0]])
        preds = make_predictions(np.array([10, 11, 12, 13]), num_classes=2, probs=probs)
        ctx = context(preds.indices, num_classes=2)
        h = entropy_ref(probs)
        counts = np.zeros(4)
        draws = 3000
        for s in range(draws):
            counts[preds.positions(strategy.select(preds, 1, replace(ctx, seed=s)).indices)] += 1
        expected = h / h.sum()
        assert counts[3] == 0  # zero entropy is never drawn while anything else is left
        np.testing.assert_allclose(counts / draws, expected, atol=0.03)

    def test_seeds_differ_and_beta_is_validated(self, strategy, pool):
        preds, ctx = pool
        picks = {tuple(strategy.select(preds, 5, replace(ctx, seed=s)).indices) for s in range(4)}
        assert len(picks) > 1
        with pytest.raises(ValueError, match="beta"):
            PowerEntropy(beta=-1.0).select(preds, 2, ctx)


# ------------------------------------------------------------------------------------------------------------
# Diversity strategies


def badge_reference(preds: Predictions, k: int, ctx: QueryContext) -> list[int]:
    """k-means++ seeding on *materialised* gradient embeddings.

    Same sampling convention: largest norm first, then an exponential race (argmax D² / E, E ~ Exp(1) drawn
    from ``ctx.rng('badge')``).
    """
    sub = preds.subset(ctx.unlabeled)
    f, p = emb_np(sub), probs_np(sub)
    r = np.eye(p.shape[1])[p.argmax(axis=1)] - p
    g = np.stack([np.outer(f[i], r[i]).ravel() for i in range(len(f))])  # N x (d*C)
    rng = ctx.rng("badge")
    picks = [int(np.argmax(np.linalg.norm(g, axis=1)))]
    for _ in range(1, k):
        d2 = np.min([np.sum((g - g[c]) ** 2, axis=1) for c in picks], axis=0)
        clocks = rng.standard_exponential(size=len(g))
        keys = d2 / clocks
        keys[picks] = -1.0
        picks.append(int(np.argmax(keys)))
    return ctx.unlabeled[picks].tolist()


class TestBADGE(StrategyTemplate):
    @pytest.fixture
    def strategy(self):
        return BADGE()

    def test_matches_materialised_reference(self, strategy, pool):
        preds, ctx = pool
        for seed in range(4):
            c = replace(ctx, seed=seed)
            assert strategy.select(preds, 12, c).indices.tolist() == badge_reference(preds, 12, c)

    def test_matches_reference_across_batched_updates(self):
        # More picks than the engine queues (256) between full refreshes.
        preds = make_predictions(np.arange(400) * 3 + 11, num_classes=5, dim=8, seed=4)
        ctx = context(preds.indices, num_classes=5, seed=2)
        assert BADGE(chunk_size=64).select(preds, 300, ctx).indices.tolist() == badge_reference(
            preds, 300, ctx
        )

    def test_first_pick_has_the_largest_gradient_norm(self, strategy, pool):
        preds, ctx = pool
        norms = strategy.score(preds, ctx)
        sub = preds.subset(ctx.unlabeled)
        r = np.eye(4)[probs_np(sub).argmax(axis=1)] - probs_np(sub)
        np.testing.assert_allclose(
            norms[preds.positions(ctx.unlabeled)],
            np.linalg.norm(emb_np(sub), axis=1) * np.linalg.norm(r, axis=1),
            rtol=1e-6,
        )
        rows = preds.positions(ctx.unlabeled)
        assert strategy.select(preds, 3, ctx).indices[0] == ctx.unlabeled[np.argmax(norms[rows])]

    def test_identical_items_still_give_k_distinct_picks(self, strategy):
        preds = make_predictions(
            np.arange(6), embeddings=np.ones((6, 3)), probs=np.tile([0.7, 0.1, 0.1, 0.1], (6, 1))
        )
        sel = strategy.select(preds, 6, context(preds.indices))
        assert sorted(sel.indices.tolist()) == list(range(6))

    def test_never_materialises_gradient_embeddings(self, strategy):
        n, d, c = 3000, 64, 100
        rng = np.random.default_rng(0)
        probs = rng.dirichlet(np.full(c, 0.3), size=n)
        preds = make_predictions(np.arange(n), num_classes=c, dim=d, probs=probs)
        ctx = context(preds.indices, num_classes=c)
        materialised = n * d * c * 8
        tracemalloc.start()
        strategy.select(preds, 300, ctx)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < materialised / 4, (
            f"peak {peak / 2**20:.1f} MiB vs {materialised / 2**20:.1f} MiB materialised"
        )


def coreset_reference(preds: Predictions, k: int, ctx: QueryContext, first: int | None = None) -> list[int]:
    """Greedy k-centre with a full N x N distance matrix over unlabeled ∪ labeled."""
    x = emb_np(preds.subset(np.concatenate([ctx.unlabeled, ctx.labeled])))
    dist = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=2))
    m = len(ctx.unlabeled)
    centres = list(range(m, len(x)))
    picks = []
    if first is not None:
        picks.append(first)
        centres.append(first)
    while len(picks) < k:
        nearest = dist[:m, centres].min(axis=1)
        nearest[picks] = -np.inf
        best = int(np.argmax(nearest))
        picks.append(best)
        centres.append(best)
    return ctx.unlabeled[picks].tolist()


class TestCoreset(StrategyTemplate):
    @pytest.fixture
    def strategy(self):
        return Coreset()

    def test_matches_brute_force_reference(self, strategy, pool):
        preds, ctx = pool
        assert strategy.select(preds, 15, ctx).indices.tolist() == coreset_reference(preds, 15, ctx)

    def test_matches_reference_across_batched_updates(self):
        preds = make_predictions(np.arange(600) * 2 + 5, dim=5, seed=3)
        ctx = context(preds.indices[50:], preds.indices[:50], np.arange(50) % 4)
        assert Coreset(chunk_size=100).select(preds, 300, ctx).indices.tolist() == coreset_reference(
            preds, 300, ctx
        )

    def test_matches_reference_on_tight_clusters(self, strategy):
        # After a pick, its whole cluster keeps stale (too large) distances until the next batched update: the
        # lazy search must see through them.
        rng = np.random.default_rng(5)
        emb = np.repeat(rng.normal(scale=10.0, size=(10, 4)), 60, axis=0) + rng.normal(
            scale=0.01, size=(600, 4)
        )
        preds = make_predictions(np.arange(600) + 50, dim=4, embeddings=emb)
        ctx = context(preds.indices[1:], preds.indices[:1], [0])
        sel = strategy.select(preds, 40, ctx)
        assert sel.indices.tolist() == coreset_reference(preds, 40, ctx)
        assert len(set((sel.indices[:9] - 50) // 60)) == 9  # the first picks visit the 9 uncovered clusters

    def test_scores_are_distances_to_the_nearest_centre(self, strategy, pool):
        preds, ctx = pool
        sel = strategy.select(preds, 4, ctx)
        lab = emb_np(preds.subset(ctx.labeled))
        picked = emb_np(preds.subset(sel.indices))
        for t in range(4):
            centres = np.vstack([lab, picked[:t]])
            np.testing.assert_allclose(
                sel.scores[t], np.linalg.norm(centres - picked[t], axis=1).min(), rtol=1e-9
            )
        np.testing.assert_allclose(
            strategy.score(preds, ctx)[preds.positions(sel.indices[:1])], sel.scores[:1], rtol=1e-9
        )

    def test_without_labels_starts_from_a_seeded_random_point(self, strategy, pool):
        preds, ctx = pool
        cold = replace(ctx, labeled=np.zeros(0, dtype=np.int64), labels=np.zeros(0, dtype=np.int64))
        sels = [strategy.select(preds, 8, replace(cold, seed=s)) for s in range(6)]
        assert len({s.indices[0] for s in sels}) > 1
        for sel in sels:
            first = int(np.flatnonzero(cold.unlabeled == sel.indices[0])[0])
            assert sel.indices.tolist() == coreset_reference(preds, 8, cold, first=first)
            assert sel.scores[0] == np.inf


class TestTypiClust(StrategyTemplate):
    @pytest.fixture
    def strategy(self):
        return TypiClust()

    @staticmethod
    def blobs() -> tuple[Predictions, np.ndarray, np.ndarray]:
        rng = np.random.default_rng(0)
        centres = np.array([[0.0, 0.0], [20.0, 0.0], [0.0, 20.0]])
        sizes = [30, 20, 10]
        emb = np.vstack([c + rng.normal(size=(s, 2)) for c, s in zip(centres, sizes)])
        blob = np.repeat(np.arange(3), sizes)
        indices = np.arange(60, dtype=np.int64) * 10 + 7
        return make_predictions(indices, dim=2, embeddings=emb), blob, emb

    def test_picks_the_most_typical_items_of_the_largest_uncovered_clusters(self, strategy):
        preds, blob, emb = self.blobs()
        labeled = preds.indices[:2]  # in blob 0, the largest
        ctx = context(preds.indices[2:], labeled, [0, 1])
        sel = strategy.select(preds, 2, ctx)
        for pick, b in zip(sel.indices, [1, 2]):  # the larger uncovered blob first
            members = np.flatnonzero(blob == b)
            x = emb[members]
            dist = np.sqrt(((x[:, None] - x[None]) ** 2).sum(axis=2))
            knn = min(20, len(members) // 2)
            typ = 1.0 / (np.sort(dist, axis=1)[:, 1 : knn + 1].mean(axis=1) + 1e-5)
            assert pick == preds.indices[members[np.argmax(typ)]]

    def test_cold_start_covers_every_cluster(self, strategy):
        preds, blob, _ = self.blobs()
        sel = strategy.select(preds, 3, context(preds.indices))
        assert sorted(blob[preds.positions(sel.indices)].tolist()) == [0, 1, 2]


class TestProbCover(StrategyTemplate):
    @pytest.fixture
    def strategy(self):
        return ProbCover()

    def test_each_pick_is_a_greedy_max_coverage_step(self):
        rng = np.random.default_rng(1)
        emb = rng.uniform(size=(50, 2))
        preds = make_predictions(np.arange(50) * 4 + 1, dim=2, embeddings=emb)
        ctx = context(preds.indices[5:], preds.indices[:5], [0, 1, 2, 3, 0])
        delta = 0.2
        sel = ProbCover(delta=delta).select(preds, 8, ctx)
        x = emb_np(preds.subset(np.concatenate([ctx.unlabeled, ctx.labeled])))
        adj = np.sqrt(((x[:, None] - x[None]) ** 2).sum(axis=2)) <= delta
        covered = adj[45:].any(axis=0)
        chosen: list[int] = []
        for pick, score in zip(sel.indices, sel.scores):
            gains = (adj[:45] & ~covered).sum(axis=1).astype(float)
            gains[chosen] = -1
            p = int(np.flatnonzero(ctx.unlabeled == pick)[0])
            assert gains[p] == gains.max() == score
            chosen.append(p)
            covered |= adj[p]

    def test_falls_back_to_random_when_everything_is_covered(self, pool):
        preds, ctx = pool
        sel = ProbCover(delta=1e6).select(preds, 5, ctx)
        assert np.all(sel.scores == 0)  # the labeled items already cover the whole pool
        assert len(np.unique(sel.indices)) == 5

    def test_default_delta_is_a_quantile_of_pairwise_distances(self):
        x = np.random.default_rng(0).normal(size=(40, 3))
        pair = np.sqrt(((x[:, None] - x[None]) ** 2).sum(axis=2))[np.triu_indices(40, k=1)]
        got = estimate_delta(x, 0.1, 2000, np.random.default_rng(0))
        np.testing.assert_allclose(got, np.sqrt(np.quantile(pair**2, 0.1)), rtol=1e-9)
        np.testing.assert_allclose(got, np.quantile(pair, 0.1), rtol=0.05)

    def test_parameters_are_validated(self, pool):
        preds, ctx = pool
        for bad in (ProbCover(delta=-1.0), ProbCover(quantile=1.5), ProbCover(sample_size=1)):
            with pytest.raises(ValueError, match="ProbCover"):
                bad.select(preds, 2, ctx)


class TestFeatDist(StrategyTemplate):
    @pytest.fixture
    def strategy(self):
        return FeatDist()

    def test_ordering_matches_numpy_reference(self, strategy, pool):
        preds, ctx = pool
        lab = emb_np(preds.subset(ctx.labeled))
        means = {c: lab[ctx.labels == c].mean(axis=0) for c in range(4) if np.any(ctx.labels == c)}
        assert 3 not in means  # class 3 has no labeled item: the global labeled mean stands in
        sub = preds.subset(ctx.unlabeled)
        pred = probs_np(sub).argmax(axis=1)
        assert np.any(pred == 3)
        ref = np.array(
            [np.linalg.norm(f - means.get(int(c), lab.mean(axis=0))) for f, c in zip(emb_np(sub), pred)]
        )
        sel = strategy.select(preds, 10, ctx)
        np.testing.assert_array_equal(sel.indices, ctx.unlabeled[np.argsort(-ref)[:10]])
        np.testing.assert_allclose(sel.scores, np.sort(ref)[::-1][:10], rtol=1e-6)

    def test_needs_labels(self, strategy, pool):
        preds, ctx = pool
        cold = replace(ctx, labeled=np.zeros(0, dtype=np.int64), labels=np.zeros(0, dtype=np.int64))
        with pytest.raises(ValueError, match="at least one labeled"):
            strategy.select(preds, 2, cold)

    def test_labeled_items_without_predictions_are_a_clear_error(self, strategy, pool):
        preds, ctx = pool
        only_unlabeled = preds.subset(ctx.unlabeled)
        with pytest.raises(ValueError, match=r"context\.labeled"):
            strategy.select(only_unlabeled, 2, ctx)


class TestZeroShot(StrategyTemplate):
    @pytest.fixture
    def strategy(self):
        return ZeroShot()

    def test_round_robin_over_predicted_classes_most_confident_first(self, strategy, pool):
        preds, ctx = pool
        sub = preds.subset(ctx.unlabeled)
        p = probs_np(sub)
        pred, conf = p.argmax(axis=1), p.max(axis=1)
        classes = np.unique(pred)
        sel = strategy.select(preds, 2 * len(classes), ctx)
        got = preds.subset(sel.indices)
        got_pred = probs_np(got).argmax(axis=1)
        # The first pass takes one item of each predicted class, the second pass one more of each.
        assert sorted(got_pred[: len(classes)].tolist()) == classes.tolist()
        assert sorted(got_pred[len(classes) :].tolist()) == classes.tolist()
        for c in classes:
            best_two = ctx.unlabeled[np.flatnonzero(pred == c)[np.argsort(-conf[pred == c])[:2]]]
            assert sel.indices[got_pred == c].tolist() == best_two.tolist()

    def test_classes_with_fewest_labels_go_first(self, strategy, pool):
        preds, ctx = pool
        # Labels cover classes 0..2 (4 each) and none of class 3: class 3's best item comes first.
        sub = preds.subset(ctx.unlabeled)
        pred, conf = probs_np(sub).argmax(axis=1), probs_np(sub).max(axis=1)
        best3 = ctx.unlabeled[pred == 3][np.argmax(conf[pred == 3])]
        assert strategy.select(preds, 1, ctx).indices.tolist() == [best3]


# ------------------------------------------------------------------------------------------------------------
# Wrappers


def pcb_pool(seed: int = 0) -> tuple[Predictions, QueryContext, np.ndarray]:
    """500 items of 5 classes; the model is right 80 % of the time and more uncertain on classes 0 and 1."""
    rng = np.random.default_rng(seed)
    n, c = 500, 5
    truth = rng.integers(c, size=n)
    predicted = np.where(rng.random(n) < 0.8, truth, rng.integers(c, size=n))
    sharp = np.where(np.isin(truth, [0, 1]), rng.uniform(0.2, 2.5, n), rng.uniform(1.0, 5.0, n))[:, None]
    logits = sharp * np.eye(c)[predicted] + 0.2 * rng.normal(size=(n, c))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    preds = make_predictions(np.arange(n) * 2 + 100, num_classes=c, probs=probs, seed=seed)
    labeled = np.arange(10)
    ctx = context(preds.indices[10:], preds.indices[labeled], truth[labeled], num_classes=c, seed=seed)
    return preds, ctx, truth


class TestClassBalanced(StrategyTemplate):
    @pytest.fixture
    def strategy(self):
        return ClassBalanced(Entropy(), gamma=0.5)

    def test_targets_the_classes_with_fewest_true_labels(self):
        probs = np.tile(np.eye(3)[np.arange(60) % 3] * 0.5 + 0.5 / 3, 1)
        preds = make_predictions(
            np.arange(64) * 3, num_classes=3, probs=np.vstack([np.full((4, 3), 1 / 3), probs])
        )
        ctx = context(preds.indices[4:], preds.indices[:4], [0, 0, 0, 2], num_classes=3)
        for seed in range(5):
            sel = ClassBalanced(Entropy(), gamma=1.0).select(preds, 4, replace(ctx, seed=seed))
            picked = preds.predicted[preds.positions(sel.indices)]
            # counts start at [3, 0, 1]: class 0 is never targeted, classes 1 and 2 end at 2 and 3 labels.
            assert 0 not in picked.tolist()
            assert sorted([np.sum(picked == 1), 1 + np.sum(picked == 2)]) == [2, 3]

    def test_candidates_are_the_top_gamma_of_the_initial_pool(self):
        preds, ctx, _ = pcb_pool()
        ctx = replace(ctx, pool_size=400)  # e.g. items were removed since round 0
        sel = ClassBalanced(Entropy(), gamma=0.1).select(preds, 10, ctx)
        top40 = Entropy().select(preds, 40, ctx).indices
        assert set(sel.indices.tolist()) <= set(top40.tolist())
        scores = Entropy().score(preds, ctx)[preds.positions(sel.indices)]
        np.testing.assert_allclose(sel.scores, scores)

    def test_falls_back_to_any_candidate_when_no_candidate_is_predicted_as_the_target(self):
        probs = np.tile([0.4, 0.35, 0.25], (30, 1))  # everything is predicted as class 0
        preds = make_predictions(np.arange(30), num_classes=3, probs=probs)
        ctx = context(preds.indices[3:], preds.indices[:3], [0, 0, 0], num_classes=3)
        sel = ClassBalanced(Entropy(), gamma=1.0).select(preds, 5, ctx)
        assert len(np.unique(sel.indices)) == 5

    def test_balances_classes_better_than_the_base_strategy(self):
        spreads = []
        for seed in range(4):
            preds, ctx, truth = pcb_pool(seed)
            rows = {"plain": Entropy(), "pcb": ClassBalanced(Entropy(), gamma=0.3)}
            hist = {}
            for key, strat in rows.items():
                picked = (strat.select(preds, 25, ctx).indices - 100) // 2
                hist[key] = np.bincount(np.concatenate([truth[:10], truth[picked]]), minlength=5)
            spreads.append((hist["plain"].std(), hist["pcb"].std()))
        plain, pcb = np.mean(spreads, axis=0)
        assert pcb < 0.5 * plain

    def test_base_must_be_a_strategy(self, pool):
        preds, ctx = pool
        with pytest.raises(ValueError, match="build_strategy"):
            ClassBalanced("entropy").select(preds, 2, ctx)

    def test_gamma_is_validated(self, pool):
        preds, ctx = pool
        for gamma in (0.0, 1.5, "0.1"):
            with pytest.raises(ValueError, match="gamma"):
                ClassBalanced(Entropy(), gamma=gamma).select(preds, 2, ctx)


class TestTopCandidates(StrategyTemplate):
    @pytest.fixture
    def strategy(self):
        return TopCandidates(Margin(), gamma=0.3, of="unlabeled", then="random")

    def test_random_pick_among_top_fraction_of_unlabeled(self):
        preds, ctx, _ = pcb_pool()
        sel = TopCandidates(Margin(), gamma=0.1, of="unlabeled", then="random").select(preds, 10, ctx)
        top = Margin().select(preds, 49, ctx).indices  # floor(0.1 * 490)
        assert set(sel.indices.tolist()) <= set(top.tolist())

    def test_initial_pool_fraction_uses_context_pool_size(self):
        preds, ctx, _ = pcb_pool()
        sel = TopCandidates(Margin(), gamma=0.1).select(preds, 10, replace(ctx, pool_size=300))
        assert set(sel.indices.tolist()) <= set(Margin().select(preds, 30, ctx).indices.tolist())

    def test_then_strategy_runs_on_the_candidates(self):
        preds, ctx, _ = pcb_pool()
        sel = TopCandidates(Entropy(), gamma=0.2, of="unlabeled", then=Coreset()).select(preds, 8, ctx)
        candidates = Entropy().select(preds, 98, ctx).indices
        expected = Coreset().select(preds, 8, replace(ctx, unlabeled=candidates)).indices
        np.testing.assert_array_equal(sel.indices, expected)
        assert TopCandidates(Entropy(), then=Coreset()).required_fields() == ("embeddings",)

    def test_at_least_k_candidates(self, pool):
        preds, ctx = pool
        sel = TopCandidates(Entropy(), gamma=0.01).select(preds, 9, ctx)  # 0.01 * 60 < 9
        assert sorted(sel.indices.tolist()) == sorted(Entropy().select(preds, 9, ctx).indices.tolist())

    def test_parameters_are_validated(self, pool):
        preds, ctx = pool
        with pytest.raises(ValueError, match="of must be"):
            TopCandidates(Entropy(), of="pool").select(preds, 2, ctx)
        with pytest.raises(ValueError, match="then must be"):
            TopCandidates(Entropy(), then="balanced").select(preds, 2, ctx)


# ------------------------------------------------------------------------------------------------------------
# Registry and configuration

ALL_NAMES = [
    "badge",
    "bald",
    "cb",
    "cbsq",
    "class_balanced",
    "coreset",
    "entropy",
    "featdist",
    "least_confidence",
    "margin",
    "power_entropy",
    "probcover",
    "random",
    "top_candidates",
    "typiclust",
    "zeroshot",
]


@pytest.mark.parametrize(("name", "check"), strategy_matrix())
def test_every_registered_strategy_honours_the_contract(name, check):
    check(contract_strategy(name), make_pool())


class TestRegistry:
    def test_available_is_sorted_and_complete(self):
        assert available() == ALL_NAMES

    def test_unknown_name_lists_the_known_ones(self):
        with pytest.raises(
            ValueError, match=r"unknown strategy 'entropi'.*'badge', 'bald', 'cb', 'cbsq', 'class_balanced'"
        ):
            get_strategy("entropi")

    def test_cpeal_by_keyword(self):
        assert get_strategy("entropy", balanced=True, gamma=0.1) == ClassBalanced(Entropy(), gamma=0.1)
        assert get_strategy("entropy", class_balanced=True) == ClassBalanced(Entropy(), gamma=0.1)

    @pytest.mark.parametrize(
        ("spec", "expected"),
        [
            ("entropy", Entropy()),
            ("entropy+pcb", ClassBalanced(Entropy())),
            ("Entropy + balanced(gamma=0.2)", ClassBalanced(Entropy(), gamma=0.2)),
            ("margin+topk", TopCandidates(Margin())),
            (
                "margin+topk(of='unlabeled', then='random')",
                TopCandidates(Margin(), of="unlabeled", then="random"),
            ),
            ("power_entropy(beta=2.0)+pcb(gamma=0.05)", ClassBalanced(PowerEntropy(beta=2.0), gamma=0.05)),
            ({"name": "entropy", "class_balanced": True}, ClassBalanced(Entropy())),
            ({"name": "margin", "top_candidates": True, "gamma": 0.2}, TopCandidates(Margin(), gamma=0.2)),
            (
                {"name": "class_balanced", "base": {"name": "bald"}, "gamma": 0.3},
                ClassBalanced(BALD(), gamma=0.3),
            ),
            ({"name": "pcb", "base": "entropy"}, ClassBalanced(Entropy())),
            (
                {"name": "top_candidates", "base": "entropy", "then": "coreset"},
                TopCandidates(Entropy(), then=Coreset()),
            ),
            ({"name": "entropy+pcb"}, ClassBalanced(Entropy())),
        ],
    )
    def test_build_strategy(self, spec, expected):
        assert build_strategy(spec) == expected

    def test_build_strategy_returns_instances_unchanged(self):
        s = BADGE()
        assert build_strategy(s) is s

    def test_every_strategy_round_trips_through_its_spec(self):
        for name in available():
            params = {"base": "entropy"} if name in ("class_balanced", "top_candidates") else {}
            s = get_strategy(name, **params)
            assert build_strategy(s.to_spec()) == s

    @pytest.mark.parametrize(
        ("spec", "message"),
        [
            ({"name": "entropy", "beta": 2}, r"unknown parameter\(s\) \['beta'\]"),
            ({"name": "entropy", "gamma": 0.2}, "only apply to a wrapper"),
            ({"name": "entropy", "class_balanced": True, "top_candidates": True}, "exclusive"),
            ({"gamma": 0.2}, "no 'name'"),
            ({"name": "class_balanced"}, "needs a 'base'"),
            ({"name": "entropy+pcb", "gamma": 0.2}, "ambiguous"),
            ("entropy+pbc", "unknown modifier 'pbc'"),
            ("entropy(0.2)", "key=literal"),
            ("entropy(x=os.system)", "key=literal"),
            ("+pcb", "cannot parse"),
            (3, "must be a str, a mapping or a Strategy"),
        ],
    )
    def test_bad_specs(self, spec, message):
        with pytest.raises(ValueError, match=message):
            build_strategy(spec)

    def test_a_new_strategy_is_one_small_registered_class(self, monkeypatch):
        monkeypatch.setattr(registry_module, "_REGISTRY", registry_module._REGISTRY.copy())

        @register_strategy
        @dataclass(frozen=True)
        class Newest(Strategy):
            name: ClassVar[str] = "newest"

            def score(self, predictions, context):
                return predictions.indices.astype(np.float64)

        preds, ctx = make_pool()
        assert "newest" in available()
        sel = build_strategy("newest+pcb(gamma=1.0)").select(preds, 3, ctx)
        assert len(sel) == 3
        assert (
            get_strategy("newest").select(preds, 2, ctx).indices.tolist() == sorted(ctx.unlabeled)[::-1][:2]
        )

    def test_registration_is_checked(self, monkeypatch):
        monkeypatch.setattr(registry_module, "_REGISTRY", registry_module._REGISTRY.copy())

        @dataclass(frozen=True)
        class Impostor(Strategy):
            name: ClassVar[str] = "entropy"

            def score(self, predictions, context):
                return np.zeros(len(predictions))

        with pytest.raises(ValueError, match="already registered"):
            register_strategy(Impostor)
        with pytest.raises(ValueError, match="Strategy subclass"):
            register_strategy(int)
        Impostor.name = "Bad Name"
        with pytest.raises(ValueError, match="lower-case identifier"):
            register_strategy(Impostor)


# ------------------------------------------------------------------------------------------------------------
# Protocol objects


class TestQueryContext:
    def test_normalises_to_int64_and_defaults_pool_size(self):
        ctx = context(np.array([5, 9], dtype=np.int32), [1], [2])
        assert ctx.unlabeled.dtype == np.int64 and ctx.labeled.dtype == np.int64
        assert ctx.initial_pool_size == 3
        assert replace(ctx, pool_size=10).initial_pool_size == 10
        assert ctx.class_counts().tolist() == [0, 0, 1, 0]

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"labels": [1, 2]}, "one label per labeled index"),
            ({"unlabeled": [1, 2], "labeled": [2]}, "both labeled and unlabeled"),
            ({"unlabeled": [3, 3]}, "duplicate"),
            ({"labels": [4]}, r"\[0, 4\)"),
            ({"unlabeled": [1.5, 2.0]}, "integer dataset indices"),
            ({"num_classes": 0}, "num_classes must be >= 1"),
            ({"seed": -1}, "seed and round must be >= 0"),
            ({"pool_size": 0}, "pool_size"),
        ],
    )
    def test_bad_contexts(self, kwargs, message):
        base = {"unlabeled": [1, 3], "labeled": [7], "labels": [0], "num_classes": 4}
        base.update(kwargs)
        with pytest.raises(ValueError, match=message):
            QueryContext(**{k: np.asarray(v) if isinstance(v, list) else v for k, v in base.items()})

    def test_rng_depends_on_seed_round_and_salt(self):
        ctx = context([1, 2])
        draw = ctx.rng("a").random()
        assert draw == ctx.rng("a").random()
        assert (
            len(
                {
                    draw,
                    ctx.rng("b").random(),
                    replace(ctx, seed=1).rng("a").random(),
                    replace(ctx, round=1).rng("a").random(),
                }
            )
            == 4
        )


def test_selection_checks_lengths():
    with pytest.raises(ValueError, match="one each"):
        Selection(np.array([1, 2]), np.array([0.5]))


def test_top_k_orders_by_score_and_puts_nan_last():
    rng = np.random.default_rng(0)
    assert top_k(np.array([0.1, np.nan, 0.9, 0.5]), 4, rng).tolist() == [2, 3, 0, 1]
