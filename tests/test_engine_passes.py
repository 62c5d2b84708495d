"""The engine's fused passes: each loss's epoch metrics (metrics_into, into the engine's buffer) equal its
per-sample loss and prediction (ties at a zero logit and saturated logits included), and the training passes
write the same buffers every epoch without changing what forward computes."""
from __future__ import annotations

import pytest
import torch

from nonlin_core import datasets
from nonlin_core.config import RunConfig
from nonlin_core.engine import BatchRun
from nonlin_core.losses import LOSSES, output_width


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_epoch_metrics_equal_per_sample_loss_and_prediction(name, dtype):
    gen = torch.Generator().manual_seed(1)
    n_classes = 3 if output_width(name, 3) == 3 else 2
    K, n, width = 4, 60, output_width(name, n_classes)
    z = torch.randn(K, width, n, dtype=dtype, generator=gen) * 8
    z[:, :, :5] = 0                                              # ties: a zero logit predicts class 0
    z[:, :, 5:10] = 40                                           # past softplus' linear threshold
    z[:, :, 10:15] = -40
    labels = torch.randint(0, n_classes, (n,), generator=gen)
    spec = LOSSES[name]
    target = labels.to(dtype) if spec.float_target else labels
    for t in (target, target.expand(K, -1)):                     # shared targets or one row per member
        out = torch.full((2, K, n), float("nan"), dtype=dtype)     # the engine's buffer: every value written
        spec.metrics_into(z, spec.metric_target(t), out)
        loss, correct = out
        assert ((correct == 0) | (correct == 1)).all()               # correctness as 0 or 1
        torch.testing.assert_close(loss, spec.per_sample(z, t.expand(K, -1), 1), rtol=0, atol=1e-6)
        assert torch.equal(correct.bool(), spec.predict(z, 1) == labels)


def test_training_forward_reuses_its_buffers_and_equals_a_fresh_forward():
    config = RunConfig(dataset="moons", n_samples=200, hidden_layers=(6, 5), epochs=3, dtype="float64")
    data = datasets.load(config)
    with torch.no_grad():
        run = BatchRun([config, config.replace(seed=1)], data, torch.device("cpu"), torch.float64, snapshot_seconds=1e9,
                       snapshot_every=0, grid=False, grid_resolution=10, cancel=None)
        fresh, _, _ = run.forward(run.X.unsqueeze(0), keep=False)
        kept, inputs, zs = run.forward(run.X.unsqueeze(0))
        assert torch.equal(fresh, kept) and len(inputs) == 3 and len(zs) == 2
        again, _, _ = run.forward(run.X.unsqueeze(0))
        assert again.data_ptr() == kept.data_ptr()               # the same memory, epoch after epoch
        fresh2, _, _ = run.forward(run.X.unsqueeze(0), keep=False)
        assert fresh2.data_ptr() != kept.data_ptr()              # evaluations (grid, test, final) get their own
