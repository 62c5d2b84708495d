"""Compare: models that differ in one field, each trained over the same seeds as one batch."""
from __future__ import annotations

from dataclasses import dataclass

from . import links
from .config import ConfigError, RunConfig

VARIED_FIELDS = ("activation", "lr")
MAX_SEEDS = 64


@dataclass(frozen=True)
class CompareSpec:
    """base with `field` set to each of `values` (one model each), every model over seeds base.seed + 0..seeds-1."""
    base: RunConfig
    field: str
    values: tuple
    seeds: int = 1

    def __post_init__(self) -> None:
        if self.field not in VARIED_FIELDS:
            raise ConfigError(f"compare: vary one of {', '.join(VARIED_FIELDS)}, not {self.field!r}")
        if not self.values or len(set(self.values)) != len(self.values):
            raise ConfigError("compare: choose distinct values to compare")
        if self.seeds < 1:
            raise ConfigError("compare: at least one seed per model")

    @property
    def labels(self) -> list[str]:
        """One per model: 'relu', or 'lr 0.1'."""
        return [str(v) if self.field == "activation" else f"lr {v:g}" for v in self.values]

    def configs(self) -> list[RunConfig]:
        """Model-major: model 0's seeds, then model 1's, ... (they differ only in per-member fields)."""
        return [self.base.replace(**{self.field: v}, seed=self.base.seed + k)
                for v in self.values for k in range(self.seeds)]

    def members(self, model: int) -> range:
        """Indices into configs() (and a batch's snapshot) of one model's seeds."""
        if not 0 <= model < len(self.values):
            raise IndexError(f"compare: no model {model} of {len(self.values)}")
        return range(model * self.seeds, (model + 1) * self.seeds)

    def model_of(self, member: int) -> int:
        """The model a member index belongs to."""
        return member // self.seeds

    def to_query(self) -> dict[str, str]:
        """URL params: the base's differences from the defaults, the varied field, its values and the seeds."""
        return {**links.base_query(self.base), "vary": self.field, "values": links.join(self.values),
                "seeds": str(self.seeds)}

    @classmethod
    def from_query(cls, params: dict[str, str]) -> CompareSpec:
        """Inverse of to_query; ConfigError naming the first bad param."""
        from .models import ACTIVATIONS
        base = links.base_from_query(params)
        field = params.get("vary", "activation")
        if field not in VARIED_FIELDS:
            raise ConfigError(f"vary: {field!r} is not one of {', '.join(VARIED_FIELDS)}")
        kind = links.choice("values", list(ACTIVATIONS)) if field == "activation" else float
        values = links.split(params, "values", kind)
        if field == "lr":
            for v in values:
                base.replace(lr=v)                       # each rate in the config's range, or ConfigError
        if not 1 <= len(values) <= 4:
            raise ConfigError(f"values: give one to four values to compare, not {len(values)}")
        return cls(base, field, values, links.whole(params, "seeds", 1, MAX_SEEDS, 1))
