"""Prefix examples stored flat (CSR), so a batch is gathered with array ops, not Python loops."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Examples"]


@dataclass(frozen=True)
class Examples:
    """A set of ``(prefix, target)`` examples.

    Prefix ``i`` is ``items[offsets[i]:offsets[i + 1]]`` (item ids ``1..N``, oldest click first) and
    its next item is ``targets[i]``.

    Shapes:
        items: (total clicks,) int64; offsets: (num examples + 1,) int64; targets: (num examples,) int64
    """

    items: np.ndarray
    offsets: np.ndarray
    targets: np.ndarray

    def __len__(self) -> int:
        return len(self.targets)

    @property
    def lengths(self) -> np.ndarray:
        """Prefix length of every example, shape (num examples,)."""
        return np.diff(self.offsets)

    def prefix(self, index: int) -> list[int]:
        """The prefix of one example as a list of item ids."""
        return self.items[self.offsets[index] : self.offsets[index + 1]].tolist()

    @classmethod
    def from_lists(cls, prefixes: Sequence[Sequence[int]], targets: Sequence[int]) -> Examples:
        """Build from parallel lists of prefixes and next items."""
        if len(prefixes) != len(targets):
            raise ValueError(f"{len(prefixes)} prefixes but {len(targets)} targets")
        lengths = np.fromiter((len(p) for p in prefixes), dtype=np.int64, count=len(prefixes))
        offsets = np.zeros(len(prefixes) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        items = np.fromiter((i for p in prefixes for i in p), dtype=np.int64, count=int(offsets[-1]))
        return cls(items, offsets, np.asarray(targets, dtype=np.int64).reshape(-1))

    @classmethod
    def augment(cls, sessions: Sequence[Sequence[int]]) -> Examples:
        """Prefix augmentation: session ``[x1..xm]`` gives ``([x1..x(m-1)], xm), ..., ([x1], x2)``.

        Longest prefix first inside each session, sessions in the given order (docs/MODELS.md §1.2 step 10).
        Sessions shorter than 2 clicks give no example.
        """
        prefixes: list[Sequence[int]] = []
        targets: list[int] = []
        for session in sessions:
            for cut in range(len(session) - 1, 0, -1):
                prefixes.append(session[:cut])
                targets.append(session[cut])
        return cls.from_lists(prefixes, targets)

    def subset(self, indices: np.ndarray) -> Examples:
        """The examples at ``indices`` (any order), copied into a new CSR layout."""
        indices = np.asarray(indices, dtype=np.int64)
        starts = self.offsets[indices]
        lengths = self.offsets[indices + 1] - starts
        offsets = np.zeros(len(indices) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        within = np.arange(offsets[-1], dtype=np.int64) - np.repeat(offsets[:-1], lengths)
        items = self.items[np.repeat(starts, lengths) + within]
        return Examples(items, offsets, self.targets[indices])

    def sessions(self) -> np.ndarray | None:
        """The session of every example, for examples in :meth:`augment`'s order (each session's prefixes
        longest first, down to one click: the order of SR-GNN's ``test.txt``), else None.

        A session ends with its one-click prefix; inside one, every example is the one before it without
        its last click, which was the next one's target. None when the examples do not chain so (another
        order: the examples cannot be grouped by session).

        Returns:
            (num examples,) int64 session index ``0..S-1``, or None.
        """
        lengths = self.lengths
        if not len(lengths) or lengths[-1] != 1:
            return None
        new_session = np.r_[True, lengths[:-1] == 1]  # (E,)
        follows = np.flatnonzero(~new_session)  # examples that continue the session of the one before
        before = follows - 1
        if np.any(lengths[follows] != lengths[before] - 1):
            return None
        last_click = self.items[self.offsets[before] + lengths[before] - 1]
        if np.any(self.targets[follows] != last_click):
            return None
        within = np.arange(int(lengths[follows].sum()), dtype=np.int64) - np.repeat(
            np.cumsum(lengths[follows]) - lengths[follows], lengths[follows])
        mine = np.repeat(self.offsets[follows], lengths[follows]) + within
        theirs = np.repeat(self.offsets[before], lengths[follows]) + within
        if np.any(self.items[mine] != self.items[theirs]):
            return None
        return np.cumsum(new_session) - 1

    def last_clicks(self) -> Examples | None:
        """The example of each session's last click (its longest prefix, the first of its examples in
        :meth:`augment`'s order), or None where the examples are not in that order (:meth:`sessions`)."""
        sessions = self.sessions()
        if sessions is None:
            return None
        return self.subset(np.flatnonzero(np.r_[True, sessions[1:] != sessions[:-1]]))

    def max_item(self) -> int:
        """Largest item id among prefixes and targets (0 when empty)."""
        largest = [int(a.max()) for a in (self.items, self.targets) if a.size]
        return max(largest, default=0)
