"""Non-neural baselines (sbrzoo/models/neighbourhood): each against a naive dictionary version of
session-rec's algorithm on hand-made sessions, the popularity fallback, checkpoints, and each
beating `pop` on the synthetic data."""

from __future__ import annotations

import io
import math
from collections import Counter, defaultdict
from dataclasses import asdict

import numpy as np
import pytest
import torch

from sbrzoo.data.collate import SessionCollator
from sbrzoo.data.examples import Examples
from sbrzoo.data.loader import batch_indices, make_loader
from sbrzoo.data.registry import load_dataset
from sbrzoo.evaluator import evaluate
from sbrzoo.models import create_model, get_spec, list_models
from sbrzoo.models.neighbourhood import SKNN, STAN, VSKNN, VSTAN, ItemKNN, SequentialRules, SessionPop
from sbrzoo.models.neighbourhood._common import Queries, training_sessions
from sbrzoo.models.neighbourhood.presets import (
    DATASET_SETTINGS,
    DEFAULTS,
    SOURCES,
    ItemKNNParams,
    SequentialRulesParams,
    SKNNParams,
    STANParams,
    VSKNNParams,
    VSTANParams,
)
from sbrzoo.presets import resolve_settings

NAMES = ["spop", "itemknn", "sr", "sknn", "vsknn", "stan", "vstan"]
NUM_ITEMS = 11  # item 10 is clicked only in test prefixes, 11 never
SESSIONS = [
    [1, 2, 3, 4], [2, 3, 5], [1, 5, 6, 2, 5], [3, 4, 7], [6, 7, 8, 6], [2, 8, 9], [1, 3, 9, 3, 4],
    [5, 6, 2], [4, 7, 1, 8], [9, 2, 3], [3, 2, 3, 1], [7, 8], [1, 2, 6, 9, 4, 3, 5], [5, 5, 3],
]
PREFIXES = [[1], [2, 3], [5, 6, 5], [3, 4, 7, 1], [9, 2, 3, 2], [8], [10], [10, 1],
            [4, 1, 2, 6, 3, 9, 5, 7, 1, 2, 8, 3], [4] + [10] * 11]


# -- naive versions, one session at a time (after session-rec's code, written independently) ---------
def position_weight(name: str, p: int, n: int) -> float:
    return {"same": 1.0, "div": p / n, "linear": 1 - 0.1 * (n - p) if p <= 10 else 0.0,
            "log": 1 / math.log10(n - p + 1.7), "quadratic": (p / n) ** 2}[name]


def step_decay(name: str, d: int) -> float:
    return {"same": 1.0, "div": 1 / d, "linear": 1 - 0.1 * d if d <= 100 else 0.0,
            "log": 1 / math.log10(d + 1.7), "quadratic": 1 / (d * d)}[name]


def clicks() -> Counter:
    return Counter(item for session in SESSIONS for item in session)


def naive_spop(prefix: list[int]) -> dict[int, float]:
    pop = clicks()
    return {i: prefix.count(i) + pop[i] / (pop[i] + 1) for i in range(1, NUM_ITEMS + 1)}


def naive_itemknn(prefix: list[int], p: ItemKNNParams) -> dict[int, float]:
    pop = clicks()
    co: dict[int, Counter] = defaultdict(Counter)
    for session in SESSIONS:
        for i in session:  # every click of i counts once against each distinct item of the session
            for j in set(session):
                if j != i:
                    co[i][j] += 1
    i = prefix[-1]
    sims = {j: c / ((pop[i] + p.lmbd) ** p.alpha * (pop[j] + p.lmbd) ** (1 - p.alpha)) for j, c in co[i].items()}
    return dict(sorted(sims.items(), key=lambda kv: (-kv[1], kv[0]))[: p.n_sims])


def naive_sr(prefix: list[int], p: SequentialRulesParams) -> dict[int, float]:
    rules: dict[int, Counter] = defaultdict(Counter)
    for session in SESSIONS:
        for v in range(1, len(session)):
            for d in range(1, min(p.steps, v) + 1):
                rules[session[v - d]][session[v]] += step_decay(p.weighting, d)
    kept = sorted(rules[prefix[-1]].items(), key=lambda kv: (-kv[1], kv[0]))
    return dict(kept[: int(p.pruning)] if p.pruning >= 1 else kept)


def naive_knn(prefix: list[int], kind: str, p) -> dict[int, float]:  # noqa: ANN001
    sessions_of: dict[int, set[int]] = defaultdict(set)
    for s, session in enumerate(SESSIONS):
        for item in session:
            sessions_of[item].add(s)
    current = set(prefix)
    candidates = set().union(*(sessions_of[i] for i in prefix))
    if p.sample_size and len(candidates) > p.sample_size:
        candidates = set(sorted(candidates, reverse=True)[: p.sample_size])  # the most recent
    weights: dict[int, float] = {}
    for position, item in enumerate(prefix, start=1):
        if kind == "vsknn":
            weights[item] = position_weight(p.weighting, position, len(prefix))
        elif kind in ("stan", "vstan"):
            weights[item] = math.exp((position - len(prefix)) / p.lambda_spw)
    neighbours = []
    for s in candidates:
        items = set(SESSIONS[s])
        shared = sorted(current & items)
        if kind == "sknn":
            sim = len(shared) / math.sqrt(len(current) * len(items))
        elif kind == "vsknn":
            sim = sum(weights[i] for i in shared) / len(weights)
        else:
            norm = math.sqrt(sum(weights[i] ** 2 for i in sorted(current))) * math.sqrt(len(items))
            lambda2 = p.lambda_snh_days * p.sessions_per_day
            sim = sum(weights[i] for i in shared) / norm * math.exp(-(len(SESSIONS) - s) / lambda2)
        if sim > 0:
            neighbours.append((s, sim))
    neighbours = sorted(neighbours, key=lambda n: (-n[1], -n[0]))[: p.k]  # ties: the more recent
    pop = clicks()
    scores: dict[int, float] = defaultdict(float)
    for s, sim in neighbours:
        session = SESSIONS[s]
        recent = max(position for position, item in enumerate(prefix, start=1) if item in session)
        if kind == "vsknn":
            decay = step_decay(p.weighting_score, len(prefix) - recent + 1)
        if kind in ("stan", "vstan"):
            last = {item: position for position, item in enumerate(session, start=1)}
            anchor = max(position for position, item in enumerate(session, start=1) if item in current)
        for item in set(session):
            if kind != "sknn" and not p.remind and item in current:
                continue
            if kind == "sknn":
                scores[item] += sim
            elif kind == "vsknn":
                idf = math.log(len(SESSIONS) / pop[item])
                scores[item] += sim * decay * (1 + p.idf_weighting * idf)
            elif kind == "stan":
                scores[item] += sim * math.exp(-abs(last[item] - anchor) / p.lambda_inh)
            else:  # session-rec's vstan.py: the item-distance decay, the IDF boost, the recent-click decay
                score = sim * math.exp(-abs(last[item] - anchor) / p.lambda_inh)
                score += score * math.log(len(SESSIONS) / pop[item]) * p.lambda_idf
                scores[item] += score * math.exp((recent - len(prefix)) / p.lambda_ipw)
    return dict(scores)


# -- fixtures ------------------------------------------------------------------------------------
def train_examples() -> Examples:
    return Examples.augment(SESSIONS)


def query_batch():  # noqa: ANN201
    examples = Examples.from_lists(PREFIXES, [1] * len(PREFIXES))
    return SessionCollator(examples, NUM_ITEMS, (), "torch")(range(len(PREFIXES)))


def fitted(model):  # noqa: ANN001, ANN201
    model.fit_statistics(train_examples())
    return model


def build(name: str, num_items: int = NUM_ITEMS, dataset: str = "synthetic"):  # noqa: ANN201
    """``name`` as ``sbrzoo train`` builds it: its settings resolved for ``dataset``."""
    settings, _ = resolve_settings(get_spec(name), dataset)
    return create_model(name, num_items, settings)


def model_scores(model) -> list[dict[int, float]]:  # noqa: ANN001
    rows, items, values = model.item_scores(Queries.from_batch(query_batch(), NUM_ITEMS))
    out: list[dict[int, float]] = [{} for _ in PREFIXES]
    for row, item, value in zip(rows.tolist(), items.tolist(), values.tolist()):
        assert item not in out[row], "one entry per (row, item)"
        out[row][item] = value
    return out


def assert_same(got: list[dict[int, float]], want: list[dict[int, float]]) -> None:
    for row, (g, w) in enumerate(zip(got, want)):
        assert set(g) == set(w), f"prefix {PREFIXES[row]}: scored items differ"
        for item in w:
            assert g[item] == pytest.approx(w[item], rel=1e-12, abs=1e-15), f"prefix {PREFIXES[row]}, item {item}"


# -- equivalence with the naive versions ----------------------------------------------------------
def test_training_sessions_are_rebuilt_from_prefixes() -> None:
    rebuilt = training_sessions(train_examples())
    assert [rebuilt.items[a:b].tolist() for a, b in zip(rebuilt.offsets[:-1], rebuilt.offsets[1:])] == SESSIONS
    shuffled = train_examples().subset(np.random.default_rng(0).permutation(len(train_examples())))
    again = training_sessions(shuffled)  # out of order: the longest prefixes, in example order
    found = [again.items[a:b].tolist() for a, b in zip(again.offsets[:-1], again.offsets[1:])]
    assert sorted(found) == sorted(SESSIONS)


def test_spop_matches_naive() -> None:
    logits = fitted(SessionPop(NUM_ITEMS))(query_batch())  # every item is scored: compare all of them
    want = [{i: float(np.float32(v)) for i, v in naive_spop(p).items()} for p in PREFIXES]
    assert_same([{i + 1: v for i, v in enumerate(row)} for row in logits.tolist()], want)


@pytest.mark.parametrize("params", [ItemKNNParams(), ItemKNNParams(n_sims=2, lmbd=1.0, alpha=0.8)])
def test_itemknn_matches_naive(params: ItemKNNParams) -> None:
    got = model_scores(fitted(ItemKNN(NUM_ITEMS, **asdict(params))))
    assert_same(got, [naive_itemknn(p, params) for p in PREFIXES])


@pytest.mark.parametrize("params", [
    SequentialRulesParams(), SequentialRulesParams(steps=2, weighting="quadratic", pruning=2),
    SequentialRulesParams(steps=3, weighting="linear", pruning=0), SequentialRulesParams(steps=15, weighting="log"),
])
def test_sr_matches_naive(params: SequentialRulesParams) -> None:
    got = model_scores(fitted(SequentialRules(NUM_ITEMS, **asdict(params))))
    assert_same(got, [naive_sr(p, params) for p in PREFIXES])


@pytest.mark.parametrize("params", [SKNNParams(), SKNNParams(k=3, sample_size=4), SKNNParams(k=2, sample_size=0)])
def test_sknn_matches_naive(params: SKNNParams) -> None:
    got = model_scores(fitted(SKNN(NUM_ITEMS, **asdict(params))))
    assert_same(got, [naive_knn(p, "sknn", params) for p in PREFIXES])


@pytest.mark.parametrize("params", [
    VSKNNParams(),
    VSKNNParams(k=3, sample_size=5, weighting="quadratic", weighting_score="linear", idf_weighting=10),
    VSKNNParams(k=4, sample_size=6, weighting="log", weighting_score="quadratic", idf_weighting=2, remind=False),
    VSKNNParams(k=2, sample_size=0, weighting="linear", weighting_score="log"),
    VSKNNParams(k=5, sample_size=3, weighting="same", weighting_score="same"),
])
def test_vsknn_matches_naive(params: VSKNNParams) -> None:
    got = model_scores(fitted(VSKNN(NUM_ITEMS, **asdict(params))))
    assert_same(got, [naive_knn(p, "vsknn", params) for p in PREFIXES])


@pytest.mark.parametrize("params", [
    STANParams(),
    STANParams(k=3, sample_size=5, lambda_spw=0.7, lambda_snh_days=1.0, sessions_per_day=7.0, lambda_inh=1.3),
    STANParams(k=2, sample_size=0, lambda_spw=2.5, lambda_snh_days=80, sessions_per_day=14 / 145, lambda_inh=5,
               remind=False),
])
def test_stan_matches_naive(params: STANParams) -> None:
    got = model_scores(fitted(STAN(NUM_ITEMS, **asdict(params))))
    assert_same(got, [naive_knn(p, "stan", params) for p in PREFIXES])


@pytest.mark.parametrize("params", [
    VSTANParams(),
    VSTANParams(k=3, sample_size=5, lambda_spw=0.7, lambda_snh_days=1.0, sessions_per_day=7.0, lambda_inh=1.3,
                lambda_ipw=0.8, lambda_idf=0.0),
    VSTANParams(k=2, sample_size=0, lambda_spw=5, lambda_snh_days=80, sessions_per_day=14 / 145, lambda_inh=5,
                lambda_ipw=5, lambda_idf=1, remind=False),
])
def test_vstan_matches_naive(params: VSTANParams) -> None:
    got = model_scores(fitted(VSTAN(NUM_ITEMS, **asdict(params))))
    assert_same(got, [naive_knn(p, "vstan", params) for p in PREFIXES])


def test_decays_are_exercised() -> None:
    """The hand-made prefixes reach positions past 10 and neighbours whose shared click is old."""
    params = VSKNNParams(k=14, sample_size=0, weighting="same", weighting_score="linear")
    old_click = naive_knn(PREFIXES[-1], "vsknn", params)  # shares only its first click, 12 steps back
    assert old_click and all(v < 0 for v in old_click.values())  # session-rec's linear decay turns negative
    got = model_scores(fitted(VSKNN(NUM_ITEMS, **asdict(params))))
    assert_same(got, [naive_knn(p, "vsknn", params) for p in PREFIXES])


# -- what forward adds: unscored items below the scored ones, by popularity -------------------------
def assert_ranked_as_session_rec(model, logits: torch.Tensor) -> None:  # noqa: ANN001
    """Positive scores kept and above every unscored item; unscored items (and zero scores: session-rec's
    0) by popularity; negative scores below them all, in their order."""
    pop = clicks()
    for row, scored in enumerate(model_scores(model)):
        positive = {i: v for i, v in scored.items() if v > 0}
        negative = {i: v for i, v in scored.items() if v < 0}
        unscored = [i for i in range(1, NUM_ITEMS + 1) if i not in positive and i not in negative]
        for item, value in positive.items():
            assert logits[row, item - 1].item() == np.float32(value)
        fill = logits[row, [i - 1 for i in unscored]]
        if positive and unscored:
            assert fill.max() < min(positive.values())
        if negative and unscored:
            assert logits[row, [i - 1 for i in negative]].max() < fill.min()
        for group, order in ((unscored, pop), (list(negative), negative)):
            for a in group:
                for b in group:
                    if order[a] > order[b]:
                        assert logits[row, a - 1] > logits[row, b - 1]


@pytest.mark.parametrize("name", [n for n in NAMES if n != "spop"])  # S-POP scores every item (above)
def test_forward_ranks_unscored_items_by_popularity(name: str) -> None:
    model = fitted(build(name))
    logits = model(query_batch())
    assert logits.shape == (len(PREFIXES), NUM_ITEMS) and logits.dtype == torch.float32
    assert_ranked_as_session_rec(model, logits)
    assert not model_scores(model)[PREFIXES.index([10])]  # an item unseen in training has no neighbours


def test_a_zero_score_is_unscored_and_a_tiny_negative_one_still_below(monkeypatch: pytest.MonkeyPatch) -> None:
    model = fitted(build("sknn"))
    rows = np.zeros(4, dtype=np.int64)
    monkeypatch.setattr(model, "item_scores", lambda queries: (rows, np.array([1, 2, 3, 4]),
                                                               np.array([2.0, 0.0, -0.5, -1e-9])))
    logits = model(query_batch())[0]
    fill = logits[4:]  # items 5..11: unscored, in [-1, 0) by popularity
    pop = clicks()
    assert logits[0].item() == 2.0 and fill.max() < 0
    assert logits[1].item() == pytest.approx(pop[2] / (max(pop.values()) + 1) - 1, abs=1e-6)  # as if unscored
    assert logits[2] < logits[3] < fill.min() <= -1.0  # -1e-9 - 1 rounds to -1 in float32: kept below


def test_negative_scores_rank_below_unscored_items_as_session_recs_zeros() -> None:
    model = fitted(VSKNN(NUM_ITEMS, **asdict(VSKNNParams(k=14, sample_size=0, weighting="same",
                                                         weighting_score="linear"))))
    negative = [item for item, value in model_scores(model)[-1].items() if value < 0]
    assert negative  # the last prefix's only neighbours share its first click, 12 steps back
    logits = model(query_batch())
    assert_ranked_as_session_rec(model, logits)
    assert logits[-1, [i - 1 for i in negative]].max() < -1.0  # below the popularity fill of [-1, 0)


@pytest.mark.parametrize("name", NAMES)
def test_checkpoint_round_trip(name: str) -> None:
    """best.pt holds dense tensors only, loads with weights_only=True, and into a fresh model: by
    load_state_dict (buffers are resized), or by load_weights after refitting (same shapes)."""
    from sbrzoo.checkpoint import load_weights

    model = fitted(build(name))
    buffer = io.BytesIO()
    torch.save({"state_dict": model.state_dict()}, buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)["state_dict"]
    assert all(isinstance(v, torch.Tensor) and not v.is_sparse for v in state.values())
    fresh = build(name)
    with pytest.raises(RuntimeError, match="not fitted"):
        fresh(query_batch())
    fresh.load_state_dict(state)
    torch.testing.assert_close(fresh(query_batch()), model(query_batch()), rtol=0, atol=0)
    refitted = fitted(build(name))
    load_weights(refitted, state, "best.pt")
    torch.testing.assert_close(refitted(query_batch()), model(query_batch()), rtol=0, atol=0)


def test_dataset_settings_are_recorded_with_sources() -> None:
    for (name, dataset), settings in DATASET_SETTINGS.items():
        assert set(settings) == set(DEFAULTS[name]) == set(get_spec(name).settings()), (name, dataset)
        assert (name, dataset) in SOURCES and "session-rec" in SOURCES[(name, dataset)]
        create_model(name, 10, settings)
    assert all((name, "*") in SOURCES for name in NAMES)
    assert DATASET_SETTINGS[("vsknn", "diginetica")]["k"] == 1500
    assert DATASET_SETTINGS[("stan", "yoochoose1_64")]["lambda_inh"] == 1
    assert DATASET_SETTINGS[("vstan", "diginetica")]["lambda_ipw"] == 5


def test_dataset_settings_reach_the_cli() -> None:
    for (name, dataset), settings in DATASET_SETTINGS.items():
        assert resolve_settings(get_spec(name), dataset)[0] == settings
    assert resolve_settings(get_spec("sknn"), "synthetic")[0] == DEFAULTS["sknn"]


# -- the evaluator on the synthetic data ----------------------------------------------------------
@pytest.fixture(scope="module")
def synthetic():  # noqa: ANN201
    return load_dataset("synthetic", valid_split="none")


def hr20(name: str, dataset) -> float:  # noqa: ANN001
    model = build(name, dataset.num_items, dataset.name)
    model.fit_statistics(dataset.train)
    loader = make_loader(dataset.test, dataset.num_items, (), "torch", batch_indices(len(dataset.test), 500))
    return evaluate(model, loader).metrics["HR@20"]


@pytest.mark.parametrize("name", NAMES)
def test_beats_popularity_on_synthetic(name: str, synthetic) -> None:  # noqa: ANN001
    assert set(NAMES) <= set(list_models())
    assert hr20(name, synthetic) > hr20("pop", synthetic) + 5
