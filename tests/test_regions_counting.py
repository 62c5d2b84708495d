"""Counting activation patterns: the packed-row paths (up to 64 units as one integer, more as bytes) number
rows as the rows' bytes sort, and the count alone equals the ids' count."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from nonlin_core.models import build_mlp
from nonlin_core.regions import KINKS, activation_patterns, count_patterns, distinct_patterns


@pytest.mark.parametrize("units", [1, 7, 8, 20, 64, 65, 130])
def test_ids_follow_the_rows_byte_order(units):
    rng = np.random.default_rng(units)
    patterns = (rng.random((500, units)) < 0.5).astype(np.int8)
    patterns[::3] = patterns[0]                                   # repeated rows
    ids, n = count_patterns(patterns)
    distinct = sorted({row.tobytes() for row in np.packbits(patterns.astype(bool), axis=1)})
    expected = np.array([distinct.index(row.tobytes()) for row in np.packbits(patterns.astype(bool), axis=1)])
    assert n == len(distinct) == distinct_patterns(patterns) and (ids == expected).all()


def test_no_units_is_one_pattern():
    patterns = np.zeros((10, 0), dtype=np.int8)
    assert distinct_patterns(patterns) == 1 and count_patterns(patterns)[1] == 1


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_pieces_equal_bucketize(activation):
    model = build_mlp(2, (6, 5), 1, activation, seed=3)
    points = np.random.default_rng(0).normal(size=(300, 2)).astype(np.float32)
    points[:5] = 0                                                # units exactly at their bias
    X = torch.as_tensor(points)
    with torch.no_grad():
        z1 = model[0](X)
        z2 = model[2](model[1](z1))
    kinks = torch.tensor(KINKS[activation])
    expected = torch.cat([torch.bucketize(z, kinks) for z in (z1, z2)], 1).numpy()
    assert (activation_patterns(model, activation, points) == expected).all()


def test_a_network_without_hidden_layers_has_one_pattern():
    model = build_mlp(2, (), 1, "relu", seed=0)
    points = np.zeros((4, 2), dtype=np.float32)
    assert activation_patterns(model, "relu", points).shape == (4, 0)


def test_a_batchs_counts_equal_each_members_module():
    """The engine counts each member from its weights: the same number as the module load_mlp builds."""
    from nonlin_core import datasets
    from nonlin_core.config import RunConfig
    from nonlin_core.models import load_mlp
    from nonlin_core.regions import linear_regions
    from nonlin_core.training import Trainer

    base = RunConfig(dataset="moons", n_samples=200, hidden_layers=(8, 6), epochs=30)
    configs = [base.replace(activation=a, seed=s) for a, s in
               (("relu", 0), ("relu", 1), ("leaky_relu", 2), ("none", 3), ("tanh", 4))]
    data = datasets.load(base)
    snap = None
    for snap in Trainer(configs, dataset=data).steps(snapshot_seconds=1e9):
        pass
    counts = [final["linear_regions"] for final in snap.final]
    expected = [linear_regions(load_mlp(c, data.n_features, data.n_classes, state), c.activation, data)
                for c, state in zip(configs, snap.state_dicts)]
    assert counts == expected and counts[3] == 1 and counts[4] is None and min(counts[:3]) > 1


@pytest.mark.parametrize("widths", [(10, 10), (70, 30)])
def test_counts_of_layer_patterns_view_equal_a_contiguous_copys(widths):
    """layer_patterns returns a transposed view; both packing paths (<= 64 units, more) count it as a copy."""
    from nonlin_core.regions import layer_patterns

    gen = torch.Generator().manual_seed(0)
    hidden, fan_in = [], 2
    for width in widths:
        hidden.append((torch.randn(width, fan_in, generator=gen), torch.randn(width, generator=gen)))
        fan_in = width
    patterns = layer_patterns(hidden, "relu", torch.randn(400, 2, generator=gen))
    copy = np.ascontiguousarray(patterns)
    ids, n = count_patterns(patterns)
    assert distinct_patterns(patterns) == n == count_patterns(copy)[1] and (ids == count_patterns(copy)[0]).all()
