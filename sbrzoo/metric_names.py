"""The names of the reported metrics, in one place. Torch-free (the CLI parses them)."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["KINDS", "CUTOFFS", "metric_names", "REPORTED", "TABLE_COLUMNS", "PAPER_METRICS"]

KINDS = ("HR", "MRR", "NDCG")
CUTOFFS = (20, 10)  # reported largest first


def metric_names(ks: Sequence[int] = CUTOFFS) -> list[str]:
    """Metric keys in report order: ``["HR@20", "MRR@20", "NDCG@20", "HR@10", ...]`` (``ks`` largest first)."""
    return [f"{kind}@{k}" for k in sorted(set(ks), reverse=True) for kind in KINDS]


REPORTED = tuple(metric_names())  # every metric a run records
TABLE_COLUMNS = ("HR@20", "MRR@20", "HR@10", "MRR@10", "NDCG@20")  # the columns of a printed table
PAPER_METRICS = ("HR@20", "MRR@20")  # what the paper's tables report (P@20 = HR@20)
