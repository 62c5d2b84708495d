"""Sweeps over activation × depth × width × seed, planned as batched jobs grouped by shape."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import links
from .config import ConfigError, RunConfig, caps


@dataclass(frozen=True)
class SweepSpec:
    base: RunConfig
    activations: tuple[str, ...]
    depths: tuple[int, ...]
    widths: tuple[int, ...]
    seeds: int = 4

    def cells(self) -> list[tuple[str, int, int]]:
        return [(a, d, w) for a in self.activations for d in self.depths for w in self.widths]

    def to_query(self) -> dict[str, str]:
        """URL params: the base's differences from the defaults, the grid's axes and the seeds."""
        return {**links.base_query(self.base), "activations": links.join(self.activations),
                "depths": links.join(self.depths), "widths": links.join(self.widths), "seeds": str(self.seeds)}

    @classmethod
    def from_query(cls, params: dict[str, str], default: SweepSpec) -> SweepSpec:
        """Inverse of to_query (absent params: default's); ConfigError naming the first bad param."""
        from .models import ACTIVATIONS
        limits = caps()
        base = links.base_from_query({**default.base.to_query(), **params})
        acts = links.split(params, "activations", links.choice("activations", list(ACTIVATIONS)), default.activations)
        depths = links.split(params, "depths", int, default.depths)
        widths = links.split(params, "widths", int, default.widths)
        for name, values, low, high in (("depths", depths, 0, limits["depth"]), ("widths", widths, 1, limits["width"])):
            if any(not low <= v <= high for v in values):
                raise ConfigError(f"{name}: every value must be in {low}..{high}")
        spec = cls(base, acts, tuple(sorted(set(depths))), tuple(sorted(set(widths))),
                   links.whole(params, "seeds", 1, MAX_SEEDS_PER_CELL, default.seeds))
        plan(spec)                                          # empty axes or too many runs: ConfigError
        return spec


MAX_SWEEP_RUNS = 4096
MAX_SEEDS_PER_CELL = 16


def plan(spec: SweepSpec) -> list[list[RunConfig]]:
    """One batch per shape (depth, width): every activation × seed of that shape trains together.
    Depth 0 has no width: its batch is shared by all widths."""
    if not (spec.activations and spec.depths and spec.widths) or spec.seeds < 1:
        raise ConfigError("sweep: choose at least one activation, depth, width and seed")
    groups: dict[tuple[int, ...], list[RunConfig]] = {}
    for depth in spec.depths:
        for width in (spec.widths if depth else spec.widths[:1]):
            hidden = (width,) * depth
            groups[hidden] = [spec.base.replace(hidden_layers=hidden, activation=a, seed=s)
                              for a in spec.activations for s in range(spec.seeds)]
    total = sum(len(g) for g in groups.values())
    if total > MAX_SWEEP_RUNS:
        raise ConfigError(f"sweep: {total} runs is over the cap of {MAX_SWEEP_RUNS}; fewer seeds or cells")
    return list(groups.values())


def cell_config(spec: SweepSpec, activation: str, depth: int, width: int, seed: int) -> RunConfig:
    """The config of one run of the sweep (its store key links the heatmap cell to the run)."""
    return spec.base.replace(hidden_layers=(width,) * depth, activation=activation, seed=seed)


SWEEP_METRICS = {"test accuracy": "test_acc", "linear regions": "linear_regions"}   # label -> key of the finals


def metric_table(spec: SweepSpec, finals: dict[str, dict | None], metric: str = "test_acc") -> dict[str, np.ndarray]:
    """Per activation: mean of a final metric over seeds, shape (depths, widths); NaN where not done yet or
    where the metric is None (linear regions of a smooth activation). `finals` maps run key -> final metrics
    (None / missing = not finished or diverged)."""
    out = {}
    for a in spec.activations:
        table = np.full((len(spec.depths), len(spec.widths)), np.nan)
        for i, d in enumerate(spec.depths):
            for j, w in enumerate(spec.widths):
                values = [f[metric] for s in range(spec.seeds)
                          if (f := finals.get(cell_config(spec, a, d, w, s).key)) and f.get(metric) is not None]
                if values:
                    table[i, j] = float(np.mean(values))
        out[a] = table
    return out


def accuracy_table(spec: SweepSpec, finals: dict[str, dict | None]) -> dict[str, np.ndarray]:
    """Per activation: mean test accuracy over seeds, shape (depths, widths); NaN where not done yet."""
    return metric_table(spec, finals, "test_acc")
