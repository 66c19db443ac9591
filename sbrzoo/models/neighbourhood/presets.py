"""Settings of the non-neural baselines: defaults and per-dataset values, each with its source.
Torch-free (the registry and the CLI read it).

The per-dataset values are session-rec's published configurations for the "single split" runs of
Ludewig, Latifi & Jannach (UMUAI 2021), https://github.com/rn5l/session-rec, files
``conf/save/diginetica/single split/single_digi_{baselines,stan,vstan}.yml`` and
``conf/save/rsc15_64/single_rsc15_64_{baselines,stan}.yml``. They were tuned on session-rec's own
splits of the same raw logs, not on the SR-GNN split used here. Where a file lists two STAN rows we
take the one tuned for HR (``stan-hr``; ``stan-mrr`` is in the comment). The Yoochoose file writes
``sampling: N`` where ``sample_size: N`` is meant (``sampling`` names the method; as written the
code would fail or keep its default); we read them as sample sizes. Other datasets get the
defaults, the class defaults of session-rec's code.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["DATASET_SETTINGS", "DEFAULTS", "SOURCES", "ItemKNNParams", "SequentialRulesParams", "SKNNParams",
           "STANParams", "VSKNNParams", "VSTANParams", "dataset_presets"]

_REPO = "session-rec (Ludewig et al., UMUAI 2021), https://github.com/rn5l/session-rec"


@dataclass(frozen=True)
class ItemKNNParams:
    """Item-kNN: ``n_sims`` neighbours kept per item, support regularisation ``lmbd``, ``alpha``
    (0.5: cosine, 1: confidence). session-rec publishes no tuned Item-kNN setting."""

    n_sims: int = 100
    lmbd: float = 20.0
    alpha: float = 0.5


@dataclass(frozen=True)
class SequentialRulesParams:
    """SR: rules ``a -> b`` for b up to ``steps`` clicks after a, weighted by
    ``STEP_DECAYS[weighting](distance)``; the ``pruning`` strongest per item kept (0: all; below 1:
    drop that share of each item's rules)."""

    steps: int = 10
    weighting: str = "div"
    pruning: float = 20.0


@dataclass(frozen=True)
class SKNNParams:
    """SKNN: ``k`` neighbours among the ``sample_size`` most recent candidates (0: all). session-rec's
    ``k`` has no default; its docstring says 100."""

    k: int = 100
    sample_size: int = 1000


@dataclass(frozen=True)
class VSKNNParams:
    """V-SKNN: position weights ``POSITION_WEIGHTS[weighting]`` of the prefix's clicks, decays
    ``STEP_DECAYS[weighting_score]`` of the neighbour's most recent shared click, item factor
    ``1 + idf_weighting · idf`` (0: off); ``remind`` keeps the prefix's own items as candidates."""

    k: int = 100
    sample_size: int = 1000
    weighting: str = "div"
    weighting_score: str = "div"
    idf_weighting: float = 0.0
    remind: bool = True


@dataclass(frozen=True)
class STANParams:
    """STAN (Garg et al., SIGIR 2019): λ1 ``lambda_spw`` (positions in the prefix), λ2 (neighbour
    recency), λ3 ``lambda_inh`` (positions in the neighbour around the shared item).

    session-rec gives λ2 in days (``lambda_snh``). The SR-GNN pickles have no timestamps, so recency
    is training-session order and λ2 is converted to sessions at the training log's mean rate,
    ``λ2 = lambda_snh_days · sessions_per_day``: a fact of the dataset (all its training sessions over
    the days they span), so a validation split, which fits the model on fewer sessions over fewer days,
    leaves it unchanged. The default rate is Diginetica's.
    """

    k: int = 100
    sample_size: int = 5000
    lambda_spw: float = 1.02
    lambda_snh_days: float = 5.0
    sessions_per_day: float = 186_670 / 145.0
    lambda_inh: float = 2.05
    remind: bool = True


@dataclass(frozen=True)
class VSTANParams(STANParams):
    """V-STAN: STAN's settings, and V-SKNN's two: λ ``lambda_ipw`` of the decay
    ``exp((p - L) / λ)`` of the neighbour's most recent shared click at position p of the prefix's L,
    and the IDF boost ``1 + lambda_idf · idf`` (0: off) of every item's score. session-rec's class
    defaults (``k`` has none there: 100, as STAN's docstring says)."""

    lambda_ipw: float = 1.02
    lambda_idf: float = 5.0


def _settings(params: Any) -> dict[str, Any]:  # noqa: ANN401 - one of the dataclasses above
    return asdict(params)


# Training sessions and the days they span, to turn STAN's λ2 from days into training sessions: Diginetica's
# views run 2016-01-01 .. 2016-06-01 and SR-GNN tests on the last 7 days -> 186,670 sessions over ~145 days;
# Yoochoose 1/64 is the most recent 1/64 of ~182 days of training sessions -> 116,167 sessions over
# ~182 / 64 = 2.84 days (uniform-rate approximation).
TRAINING_SESSIONS = {"diginetica": 186_670, "yoochoose1_64": 116_167}
_DIGI_RATE = TRAINING_SESSIONS["diginetica"] / 145.0
_YOO_RATE = TRAINING_SESSIONS["yoochoose1_64"] / (182.0 / 64)


def sessions_per_day_of_span(dataset: str, train_span_days: float, valid_split: str, valid_fraction: float) -> float:
    """The ``sessions_per_day`` that gives a run saved with the earlier ``train_span_days`` setting (before
    2026-12-02) the λ2 it was fitted with: that setting divided the sessions fitted by the span, so the
    dataset's training sessions (Diginetica's for an unregistered dataset) less those a ``last_sessions``
    split holds out (for ``random``, the same share of them: an approximation), over the span. A run
    fitted with a validation split so differs from today's preset, and the tables mark it."""
    from sbrzoo.data.splits import held_out_sessions

    sessions = TRAINING_SESSIONS.get(dataset, TRAINING_SESSIONS["diginetica"])
    if valid_split == "last_sessions":
        sessions -= held_out_sessions(sessions, valid_fraction)
    elif valid_split == "random":
        sessions = round(sessions * (1.0 - valid_fraction))
    return sessions / train_span_days

DEFAULTS: dict[str, dict[str, Any]] = {
    "spop": {},
    "itemknn": _settings(ItemKNNParams()),
    "sr": _settings(SequentialRulesParams()),
    "sknn": _settings(SKNNParams()),
    "vsknn": _settings(VSKNNParams()),
    "stan": _settings(STANParams(sessions_per_day=_DIGI_RATE)),
    "vstan": _settings(VSTANParams(sessions_per_day=_DIGI_RATE)),
}

_DIGI = "session-rec conf/save/diginetica/single split/"
_YOO = "session-rec conf/save/rsc15_64/"
SOURCES: dict[tuple[str, str], str] = {
    ("spop", "*"): f"{_REPO}: algorithms/baselines/spop.py (no settings)",
    ("itemknn", "*"): f"{_REPO}: algorithms/knn/iknn.py defaults (GRU4Rec's baseline)",
    ("sr", "*"): f"{_REPO}: algorithms/baselines/sr.py defaults",
    ("sknn", "*"): f"{_REPO}: algorithms/knn/sknn.py defaults",
    ("vsknn", "*"): f"{_REPO}: algorithms/knn/vsknn.py defaults",
    ("stan", "*"): f"{_REPO}: algorithms/knn/stan.py defaults",
    ("vstan", "*"): f"{_REPO}: algorithms/knn/vstan.py defaults",
    ("sr", "diginetica"): _DIGI + "single_digi_baselines.yml",
    ("sknn", "diginetica"): _DIGI + "single_digi_baselines.yml",
    ("vsknn", "diginetica"): _DIGI + "single_digi_baselines.yml",
    ("stan", "diginetica"): _DIGI + "single_digi_stan.yml (stan-hr)",
    ("sr", "yoochoose1_64"): _YOO + "single_rsc15_64_baselines.yml",
    ("sknn", "yoochoose1_64"): _YOO + "single_rsc15_64_baselines.yml",
    ("vsknn", "yoochoose1_64"): _YOO + "single_rsc15_64_baselines.yml",
    ("stan", "yoochoose1_64"): _YOO + "single_rsc15_64_stan.yml (stan-hr)",
    ("vstan", "diginetica"): _DIGI + "single_digi_vstan.yml (vstan-hr)",
    ("vstan", "yoochoose1_64"): f"{_REPO}: algorithms/knn/vstan.py defaults (no published rsc15_64 setting; "
                                "the days converted as for STAN)",
}

DATASET_SETTINGS: dict[tuple[str, str], dict[str, Any]] = {
    ("sr", "diginetica"): _settings(SequentialRulesParams(steps=15, weighting="div")),
    ("sr", "yoochoose1_64"): _settings(SequentialRulesParams(steps=4, weighting="quadratic")),
    ("sknn", "diginetica"): _settings(SKNNParams(k=50, sample_size=500)),
    ("sknn", "yoochoose1_64"): _settings(SKNNParams(k=500, sample_size=1000)),
    ("vsknn", "diginetica"): _settings(VSKNNParams(k=1500, sample_size=10000, weighting="quadratic",
                                                   weighting_score="linear", idf_weighting=10.0)),
    ("vsknn", "yoochoose1_64"): _settings(VSKNNParams(k=1000, sample_size=5000, weighting="log",
                                                      weighting_score="quadratic", idf_weighting=2.0)),
    # stan-mrr: k=500, sample_size=5000, lambda_spw=1.25, lambda_snh=80, lambda_inh=5
    ("stan", "diginetica"): _settings(STANParams(k=500, sample_size=2500, lambda_spw=2.5, lambda_snh_days=80.0,
                                                 sessions_per_day=_DIGI_RATE, lambda_inh=5.0)),
    # stan-mrr: k=1500, sample_size=10000, lambda_spw=1e-5, lambda_snh=2.5, lambda_inh=4
    ("stan", "yoochoose1_64"): _settings(STANParams(k=500, sample_size=5000, lambda_spw=1.0, lambda_snh_days=10.0,
                                                    sessions_per_day=_YOO_RATE, lambda_inh=1.0)),
    # vstan-mrr: k=1500, sample_size=5000, lambda_spw=1.25, lambda_snh=100, lambda_inh=10, lambda_ipw=10, lambda_idf=10
    ("vstan", "diginetica"): _settings(VSTANParams(k=1500, sample_size=10000, lambda_spw=5.0, lambda_snh_days=80.0,
                                                   sessions_per_day=_DIGI_RATE, lambda_inh=5.0, lambda_ipw=5.0,
                                                   lambda_idf=1.0)),
    ("vstan", "yoochoose1_64"): _settings(VSTANParams(sessions_per_day=_YOO_RATE)),
}


def dataset_presets() -> dict[tuple[str, str], dict[str, Any]]:
    """``(model, dataset) -> settings`` for :mod:`sbrzoo.presets` (the models' preset key is their name)."""
    return {key: dict(settings) for key, settings in DATASET_SETTINGS.items()}
