"""Most-popular baseline: every session gets the same ranking, by click count in training."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from sbrzoo.data.batch import SessionBatch
from sbrzoo.data.examples import Examples

__all__ = ["PopularityModel"]


class PopularityModel(nn.Module):
    """Scores item ``i`` by its number of training clicks (a buffer, no trainable parameters).

    Shapes:
        forward: SessionBatch of B prefixes -> (B, N)
    """

    def __init__(self, num_items: int) -> None:
        super().__init__()
        self.num_items = num_items
        self.register_buffer("counts", torch.zeros(num_items))

    def fit_statistics(self, train: Examples) -> None:
        """Count clicks: every target once, plus the first click of each session (its length-1 prefix)."""
        first_clicks = train.items[train.offsets[:-1][train.lengths == 1]]
        clicks = np.concatenate([train.targets, first_clicks])
        counts = np.bincount(clicks, minlength=self.num_items + 1)[1:]
        self.counts.copy_(torch.from_numpy(counts).float())

    def forward(self, batch: SessionBatch) -> Tensor:
        return self.counts.expand(batch.batch_size, -1)
