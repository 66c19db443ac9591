"""Paired significance tests between two models ranked on the same test examples, over sessions."""

from __future__ import annotations

import numpy as np

__all__ = ["paired_comparison"]


def paired_comparison(ranks_a: np.ndarray, ranks_b: np.ndarray, sessions: np.ndarray | None = None, k: int = 20
                      ) -> tuple[dict[str, float], dict[str, float]]:
    """Differences ``a - b`` (points) and two-sided p-values of HR@k and MRR@k over paired sessions.

    The prefixes of one session are not independent examples (a session of ``m`` clicks gives
    ``m - 1`` of them, which share their clicks), so each session is one observation: the mean, over
    its examples, of the hit at k (HR) or of the reciprocal rank (0 beyond k; MRR) under each model.
    Both tests are Wilcoxon signed-rank tests of those per-session means, the sessions where the two
    models are equal left out. With every example a session of its own, the HR test is a sign test
    of the examples that exactly one model hits (McNemar's).

    Args:
        ranks_a, ranks_b: (E,) 1-based ranks of the same E test examples under two models.
        sessions: (E,) session index ``0..S-1`` of every example (:meth:`Examples.sessions`); None:
            every example is its own session.

    Raises:
        ValueError: The rank arrays differ in shape, or ``sessions`` does not cover them.
    """
    if ranks_a.shape != ranks_b.shape:
        raise ValueError(f"paired ranks must cover the same examples, got shapes {ranks_a.shape} and {ranks_b.shape}")
    if sessions is None:
        sessions = np.arange(len(ranks_a))
    if sessions.shape != ranks_a.shape:
        raise ValueError(f"sessions must give the session of each of the {len(ranks_a)} examples, "
                         f"got shape {sessions.shape}")
    from scipy import stats  # here, not at the top: a GPU machine without scipy still trains

    hits_a, hits_b = ranks_a <= k, ranks_b <= k
    reciprocal_a = np.where(hits_a, 1.0 / ranks_a, 0.0)
    reciprocal_b = np.where(hits_b, 1.0 / ranks_b, 0.0)
    sizes = np.bincount(sessions)
    p_values = {}
    for name, a, b in ((f"HR@{k}", hits_a, hits_b), (f"MRR@{k}", reciprocal_a, reciprocal_b)):
        gap = a.astype(np.float64) - b  # (E,)
        # (S,) mean differences, rounded: sums leave noise (~1e-17) that would part equal values and zeros
        per_session = np.round(np.bincount(sessions, weights=gap) / np.maximum(sizes, 1), 12)[sizes > 0]
        differs = per_session != 0
        p_values[name] = float(stats.wilcoxon(per_session[differs]).pvalue) if differs.any() else 1.0
    difference = {
        f"HR@{k}": 100.0 * (hits_a.mean() - hits_b.mean()),
        f"MRR@{k}": 100.0 * (reciprocal_a.mean() - reciprocal_b.mean()),
    }
    return difference, p_values
