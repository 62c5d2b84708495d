"""Which queued jobs a worker trains together (cross-session batching): the one rule, in one table.

Equal batch keys (same data, shape and schedule) are what the batched engine needs; MERGE_MATCH names the
per-member fields whose values must also agree (a policy, each entry with its reason). A job's merge key is its
batch key plus the MERGE_MATCH values its configs use; the queue merges only jobs with equal merge keys."""
from __future__ import annotations

from collections.abc import Hashable

from .config import RunConfig
from .training import batch_key

# field -> why queued jobs whose members differ in it are not merged
MERGE_MATCH: dict[str, str] = {
    "activation": "kept apart, conservatively: a ws_load run saw done p95 worse with mixed-activation merges; "
                  "bench.merge_cost puts a merged job of 10 activations only ~3% above one of a single activation "
                  "(2.77x vs 2.68x one run; the 10 apart 7.4x), so the harm was merging itself (all members end "
                  "together), now bounded by the queue's fair share; an empty table merges any activations",
}


def merge_key(configs: list[RunConfig]) -> Hashable:
    """Jobs with equal merge keys may train as one batch: the batch key and the MERGE_MATCH values used."""
    used = sorted({tuple(getattr(c, name) for name in MERGE_MATCH) for c in configs})
    return batch_key(configs[0]), tuple(used)
