"""Which queued jobs a worker trains together (cross-session batching): the one rule, in one table.

Equal batch keys (same data, shape and schedule) are what the batched engine needs; MERGE_MATCH names the
per-member fields whose values must also agree for a merged job to pay off. A job's merge key is its batch key
plus the MERGE_MATCH values its configs use; the queue merges only jobs with equal merge keys."""
from __future__ import annotations

from collections.abc import Hashable

from .config import RunConfig
from .training import batch_key

# field -> why members that differ in it train faster as separate jobs than merged
MERGE_MATCH: dict[str, str] = {
    "activation": "a batch of several activations runs each activation's members in turn (an indexed copy per "
                  "group and layer), so a merged job of n activations costs about n runs and all its members "
                  "finish together; bench.ws_load's done p95 was worse merged than separate",
}


def merge_key(configs: list[RunConfig]) -> Hashable:
    """Jobs with equal merge keys may train as one batch: the batch key and the MERGE_MATCH values used."""
    used = sorted({tuple(getattr(c, name) for name in MERGE_MATCH) for c in configs})
    return batch_key(configs[0]), tuple(used)
