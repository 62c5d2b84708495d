"""The line of jobs waiting for a worker: served round-robin by owner (session), not first come, and when a
worker takes a job it also takes the queued jobs that can train with it as one batch (equal batch keys)."""
from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any


@dataclass(eq=False)
class _Entry:
    item: Any
    owner: str
    batch_key: Hashable | None          # None: never trained together with another entry (a sweep)


class FairQueue:
    """put(item, owner, batch_key); take() blocks for the next owner's oldest item, plus compatible ones."""

    def __init__(self):
        self._cond = threading.Condition()
        self._lines: OrderedDict[str, deque[_Entry]] = OrderedDict()   # owner -> its entries; first owner serves next
        self._closed = False
        self._waiting = 0                   # take() calls waiting for an item (idle workers)

    def put(self, item: Any, owner: str = "", batch_key: Hashable | None = None) -> None:
        """Queue item at the end of its owner's line (a new owner joins the rotation at its end)."""
        with self._cond:
            self._lines.setdefault(owner, deque()).append(_Entry(item, owner, batch_key))
            self._cond.notify()

    def put_front(self, item: Any, owner: str = "") -> None:
        """Queue item first in line (a job that left a running batch, to go on alone); never merged."""
        with self._cond:
            self._lines.setdefault(owner, deque()).appendleft(_Entry(item, owner, None))
            self._lines.move_to_end(owner, last=False)
            self._cond.notify()

    def order(self) -> list[Any]:
        """Queued items in the order take() would serve them: one per owner in turn."""
        with self._cond:
            return [e.item for e in self._rotation()]

    @property
    def waiting(self) -> int:
        """take() calls waiting for an item (idle workers)."""
        with self._cond:
            return self._waiting

    def __len__(self) -> int:
        with self._cond:
            return sum(len(line) for line in self._lines.values())

    def take(self, max_members: int = 1, joins: Callable[[Any, list[Any]], bool] = lambda item, group: True,
             timeout: float | None = None) -> list[Any] | None:
        """The next item in fair order, then the queued items with its batch key that joins(item, group_so_far)
        accepts, in fair order: up to max_members items in all, and no more than this taker's share of the line
        (the items queued over the takers waiting, itself included), so a merge never leaves a waiting taker
        (an idle worker) without work. None once closed and empty, or after timeout."""
        with self._cond:
            self._waiting += 1
            try:
                if not self._cond.wait_for(lambda: self._closed or self._lines, timeout):
                    return None
            finally:
                self._waiting -= 1
            if not self._lines:
                return None
            share = -(-sum(len(q) for q in self._lines.values()) // (self._waiting + 1))
            max_members = min(max_members, share)
            owner, line = next(iter(self._lines.items()))
            head = line.popleft()
            self._lines.move_to_end(owner)
            group = [head]
            if head.batch_key is not None and joins(head.item, [head.item]):
                for entry in self._rotation():
                    if len(group) >= max_members:
                        break
                    if entry.batch_key == head.batch_key and joins(entry.item, [e.item for e in group]):
                        self._lines[entry.owner].remove(entry)
                        group.append(entry)
            for name in [o for o, q in self._lines.items() if not q]:
                del self._lines[name]
            return [e.item for e in group]

    def close(self) -> list[Any]:
        """Refuse further waits: take() returns None once empty; the items left are removed and returned."""
        with self._cond:
            self._closed = True
            left = [e.item for e in self._rotation()]
            self._lines.clear()
            self._cond.notify_all()
            return left

    def _rotation(self) -> list[_Entry]:
        """Entries in serving order: the first of each owner in turn, then the second of each, ..."""
        lines = [list(q) for q in self._lines.values()]
        out = []
        for i in range(max((len(q) for q in lines), default=0)):
            out.extend(q[i] for q in lines if i < len(q))
        return out
