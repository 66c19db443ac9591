"""Paired significance tests between two models ranked on the same test examples."""

from __future__ import annotations

import numpy as np

__all__ = ["paired_comparison"]


def paired_comparison(ranks_a: np.ndarray, ranks_b: np.ndarray, k: int = 20
                      ) -> tuple[dict[str, float], dict[str, float]]:
    """Differences ``a - b`` (points) and two-sided p-values of HR@k and MRR@k over paired examples.

    HR@k: exact McNemar test, i.e. a binomial test with p = 1/2 on the examples that exactly one model
    hits. MRR@k: Wilcoxon signed-rank test on the per-example reciprocal ranks (0 beyond k), the
    examples where both are equal left out.

    Args:
        ranks_a, ranks_b: (E,) 1-based ranks of the same E test examples under two models.

    Raises:
        ValueError: The rank arrays differ in shape.
    """
    if ranks_a.shape != ranks_b.shape:
        raise ValueError(f"paired ranks must cover the same examples, got shapes {ranks_a.shape} and {ranks_b.shape}")
    from scipy import stats  # here, not at the top: a GPU machine without scipy still trains

    hits_a, hits_b = ranks_a <= k, ranks_b <= k
    reciprocal_a = np.where(hits_a, 1.0 / ranks_a, 0.0)
    reciprocal_b = np.where(hits_b, 1.0 / ranks_b, 0.0)
    only_a, only_b = int(np.sum(hits_a & ~hits_b)), int(np.sum(hits_b & ~hits_a))
    hr_p = stats.binomtest(only_a, only_a + only_b, 0.5).pvalue if only_a + only_b else 1.0
    differs = reciprocal_a != reciprocal_b
    mrr_p = stats.wilcoxon(reciprocal_a[differs], reciprocal_b[differs]).pvalue if differs.any() else 1.0
    difference = {
        f"HR@{k}": 100.0 * (hits_a.mean() - hits_b.mean()),
        f"MRR@{k}": 100.0 * (reciprocal_a.mean() - reciprocal_b.mean()),
    }
    return difference, {f"HR@{k}": float(hr_p), f"MRR@{k}": float(mrr_p)}
