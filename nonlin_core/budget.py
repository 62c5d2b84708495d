"""What a requested job costs: the server caps and its estimated work against NONLIN_MAX_WORK,
checked before it is queued (never for a stored run)."""
from __future__ import annotations

import math
from collections.abc import Sequence

from . import datasets, features
from .config import RunConfig, fields_with_role
from .errors import DataError, OverBudget
from .limits import max_work
from .losses import output_width

# A unit of work is one sample through one parameter for one epoch; one optimizer step's fixed cost (the
# framework overhead of a tiny MLP, ~0.3 ms on a 2-core development machine) is worth STEP_UNITS of them.
# There 1e10 units took 1-6 s of one worker (6 s for many small members batched together).
STEP_UNITS = 3e6
_DATA_FIELDS = fields_with_role("data")


def n_parameters(n_features: int, hidden_layers: Sequence[int], n_outputs: int) -> int:
    """Weights and biases of an MLP with these layer widths."""
    widths = [n_features, *hidden_layers, n_outputs]
    return sum((a + 1) * b for a, b in zip(widths, widths[1:]))


def batch_work(configs: Sequence[RunConfig], n_rows: int, n_features: int, n_classes: int) -> float:
    """Units of work of one batch (members share data and batch size): epochs x (sum over members of
    rows x parameters + optimizer steps per epoch x STEP_UNITS); a batch's members take their steps together."""
    c0 = configs[0]
    n_train = max(1, n_rows - round(n_rows * c0.test_size))
    steps = math.ceil(n_train / c0.batch_size) if c0.batch_size else 1
    arithmetic = sum(n_rows * n_parameters(n_features, c.hidden_layers, output_width(c.loss, n_classes))
                     for c in configs)
    return float(max(c.epochs for c in configs) * (arithmetic + steps * STEP_UNITS))


def job_work(groups: Sequence[Sequence[RunConfig]]) -> float | None:
    """Units of work of a job (its batches one after another); None when its data cannot be had (the job
    then fails at once with the reason)."""
    shapes: dict[tuple, tuple[int, int, int]] = {}
    total = 0.0
    for configs in groups:
        data = tuple(getattr(configs[0], f) for f in _DATA_FIELDS)
        if data not in shapes:
            try:
                X, _, _, classes, _ = datasets.raw_data(configs[0])
            except DataError:
                return None
            shapes[data] = (X.shape[0], features.width(configs[0].features, X.shape[1]), len(classes))
        total += batch_work(configs, *shapes[data])
    return total


def check_request(groups: Sequence[Sequence[RunConfig]], *, sweep: bool = False) -> None:
    """Raise ConfigError for a config over a server cap, OverBudget for a job over NONLIN_MAX_WORK."""
    for configs in groups:
        for config in configs:
            config.check_caps()
    budget = max_work()
    work = job_work(groups) if budget else None
    if work is None or work <= budget:
        return
    n_runs = sum(len(g) for g in groups)
    what = "this sweep is" if sweep else "this run is" if n_runs == 1 else f"these {n_runs} runs are"
    lower = "epochs, samples or the width/depth of the network"
    if any(g[0].batch_size for g in groups):
        lower += ", or raise the batch size"
    if sweep:
        lower += ", or choose fewer seeds, depths or widths"
    elif n_runs > 1:
        lower += ", or compare fewer seeds or models"
    raise OverBudget(f"{what} about {_sci(work)} units of work, above the server's {_sci(budget)} "
                     f"(NONLIN_MAX_WORK): lower {lower}")


def _sci(x: float) -> str:
    """2 significant digits, exponent bare: 4.6e13, 2e9, 1e12."""
    mantissa, _, exponent = f"{x:.2g}".partition("e")
    return f"{mantissa}e{int(exponent)}" if exponent else mantissa
