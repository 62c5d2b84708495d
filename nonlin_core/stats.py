"""Honest comparisons over seeds: mean ± std of finals, paired differences with a 95% CI."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as sps


@dataclass(frozen=True)
class Summary:
    mean: float
    std: float
    n: int


def summary(values) -> Summary:
    """Mean and sample std (ddof=1) of the finite values."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=np.float64)
    return Summary(float(v.mean()) if len(v) else float("nan"), float(v.std(ddof=1)) if len(v) > 1 else 0.0, len(v))


@dataclass(frozen=True)
class PairedDiff:
    """a − b over seeds paired by seed: mean and the half-width of its 95% t-interval."""
    mean: float
    half_width: float
    n: int

    @property
    def interval(self) -> tuple[float, float]:
        return self.mean - self.half_width, self.mean + self.half_width

    @property
    def significant(self) -> bool:
        """The 95% interval excludes zero."""
        lo, hi = self.interval
        return self.n > 1 and (lo > 0 or hi < 0)


def paired_difference(a, b, confidence: float = 0.95) -> PairedDiff:
    """Paired t-interval of mean(a − b); seeds where either value is missing are dropped."""
    pairs = [(x, y) for x, y in zip(a, b, strict=True)
             if x is not None and y is not None and np.isfinite(x) and np.isfinite(y)]
    d = np.array([x - y for x, y in pairs], dtype=np.float64)
    n = len(d)
    if n == 0:
        return PairedDiff(float("nan"), float("nan"), 0)
    if n == 1:
        return PairedDiff(float(d[0]), float("inf"), 1)
    half = float(sps.t.ppf(0.5 + confidence / 2, n - 1) * d.std(ddof=1) / np.sqrt(n))
    return PairedDiff(float(d.mean()), half, n)


def describe(name_a: str, name_b: str, diff: PairedDiff, unit: str = "points") -> str:
    """'relu beats none by 34 ± 3 points over 8 seeds (95% CI)' in accuracy points (×100)."""
    if diff.n == 0:
        return f"{name_a} vs {name_b}: no finished pairs yet"
    m, h = 100 * diff.mean, 100 * diff.half_width
    if diff.n == 1:
        return f"{name_a} vs {name_b}: {m:+.1f} {unit} on one seed — run more seeds for an interval"
    if not diff.significant:
        return f"{name_a} and {name_b} are not distinguishable: {m:+.1f} ± {h:.1f} {unit} over {diff.n} seeds (95% CI)"
    better, worse = (name_a, name_b) if m > 0 else (name_b, name_a)
    return f"{better} beats {worse} by {abs(m):.1f} ± {h:.1f} {unit} over {diff.n} seeds (95% CI)"
