"""Seed statistics against scipy/numpy references, and the sweep planner's grouping."""
import numpy as np
import pytest
from scipy import stats as sps

from nonlin_core.compare import CompareSpec
from nonlin_core.config import ConfigError, RunConfig
from nonlin_core.stats import describe, paired_difference, summary
from nonlin_core.sweep import SweepSpec, accuracy_table, cell_config, plan
from nonlin_core.training import Trainer, check_batch


def test_paired_difference_matches_scipy_ttest_interval():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.5, 1, 8), rng.uniform(0.4, 0.6, 8)
    diff = paired_difference(a, b)
    ci = sps.ttest_rel(a, b).confidence_interval(0.95)
    assert diff.interval == pytest.approx((ci.low, ci.high))
    assert diff.n == 8


def test_paired_difference_drops_unpaired_seeds_and_says_when_not_distinguishable():
    diff = paired_difference([0.5, 0.6, None, 0.55], [0.52, 0.58, 0.9, 0.56])
    assert diff.n == 3
    assert not diff.significant
    assert "not distinguishable" in describe("relu", "tanh", diff)


def test_describe_names_the_winner_with_interval():
    diff = paired_difference([0.9, 0.95, 0.92, 0.97], [0.46, 0.47, 0.45, 0.46])
    text = describe("none", "relu", paired_difference([0.46, 0.47, 0.45, 0.46], [0.9, 0.95, 0.92, 0.97]))
    assert text.startswith("relu beats none by 47.5 ±")
    assert diff.significant and "over 4 seeds" in text


def test_summary_uses_sample_std_of_the_finite_values():
    s = summary([0.5, 0.7, None, float("nan")])
    assert (s.mean, s.n) == (pytest.approx(0.6), 2) and s.std == pytest.approx(np.std([0.5, 0.7], ddof=1))


def test_plan_groups_by_shape_and_each_group_is_one_valid_batch():
    spec = SweepSpec(RunConfig(epochs=5), ("none", "relu", "tanh"), (0, 1, 3), (4, 16), seeds=2)
    groups = plan(spec)
    shapes = [g[0].hidden_layers for g in groups]
    assert shapes == [(), (4,), (16,), (4, 4, 4), (16, 16, 16)]          # depth 0 once, not per width
    for g in groups:
        check_batch(g)
        assert len(g) == 3 * 2 and len({c.key for c in g}) == 6
    every = {c.key for g in groups for c in g}
    for a, d, w in spec.cells():
        for s in range(2):
            assert cell_config(spec, a, d, w, s).key in every


@pytest.mark.parametrize("field, values", [("activation", ("none", "relu", "tanh")), ("lr", (0.01, 0.1))])
def test_compare_spec_members_of_a_model_are_its_seeds_and_train_as_one_batch(field, values):
    spec = CompareSpec(RunConfig(epochs=5, seed=7), field, values, seeds=3)
    configs = spec.configs()
    check_batch(configs)
    assert len(configs) == len(values) * 3 and len({c.key for c in configs}) == len(configs)
    for model, value in enumerate(values):
        members = [configs[k] for k in spec.members(model)]
        assert {getattr(c, field) for c in members} == {value} and [c.seed for c in members] == [7, 8, 9]
        assert {spec.model_of(k) for k in spec.members(model)} == {model}
    assert spec.labels == (list(values) if field == "activation" else ["lr 0.01", "lr 0.1"])
    with pytest.raises(IndexError):
        spec.members(len(values))


@pytest.mark.parametrize("field, values, seeds, match", [("epochs", (1, 2), 1, "vary one of"),
                                                          ("lr", (), 1, "distinct"), ("lr", (0.1, 0.1), 1, "distinct"),
                                                          ("lr", (0.1, 1.0), 0, "at least one seed")])
def test_compare_spec_refuses_what_cannot_be_compared(field, values, seeds, match):
    with pytest.raises(ConfigError, match=match):
        CompareSpec(RunConfig(), field, values, seeds)


def test_plan_refuses_empty_and_oversized_sweeps():
    with pytest.raises(ConfigError, match="at least one"):
        plan(SweepSpec(RunConfig(), (), (1,), (4,)))
    with pytest.raises(ConfigError, match="over the cap"):
        plan(SweepSpec(RunConfig(), ("relu",) * 1, tuple(range(1, 9)), tuple(range(1, 65)), seeds=10))


def test_accuracy_table_from_a_real_batched_sweep():
    spec = SweepSpec(RunConfig(n_samples=400, optimizer="adam", lr=0.01), ("none", "relu"), (0, 2), (8,), seeds=2)
    finals = {}
    for group in plan(spec):
        snap = None
        for snap in Trainer(group).steps(snapshot_seconds=1e9):
            pass
        finals.update({c.key: f for c, f in zip(group, snap.final, strict=True)})
    table = accuracy_table(spec, finals)
    assert table["none"].shape == (2, 1) and np.isfinite(table["relu"]).all()
    # depth 0 is the same linear model for both activations; with 2 hidden ReLU layers circles bend
    assert table["none"][0, 0] == table["relu"][0, 0]
    assert table["relu"][1, 0] > table["none"][1, 0] + 0.2


def test_sweep_job_trains_every_group_counts_once_and_is_served_from_the_store_after(store_path):
    from nonlin_core.jobs import JobManager
    from nonlin_core.store import SQLiteStore

    spec = SweepSpec(RunConfig(epochs=30, n_samples=200), ("none", "relu"), (1, 2), (4, 8), seeds=2)
    groups = plan(spec)
    manager = JobManager(SQLiteStore(store_path), max_per_owner=2)
    try:
        sweep = manager.submit_sweep(groups, owner="teacher")
        assert len(sweep.groups) == 4
        other = manager.submit(RunConfig(epochs=5), owner="teacher")         # the sweep is one job of two
        assert sweep.wait(120) and other.wait(60)
        assert sweep.status == "done" and sweep.progress == 1.0
        stored = {c.key: manager.store.get(c.key) for g in groups for c in g}
        assert all(r is not None and r.status == "done" for r in stored.values())
        again = manager.submit_sweep(groups, owner="teacher")
        assert again.finished and all(g.from_cache for g in again.groups)
        finals = {k: r.final for k, r in stored.items()}
        assert np.isfinite(accuracy_table(spec, finals)["relu"]).all()
    finally:
        manager.shutdown()


def test_linear_regions_table_from_a_real_batched_sweep():
    from nonlin_core.sweep import metric_table
    spec = SweepSpec(RunConfig(n_samples=300, epochs=30, optimizer="adam", lr=0.01), ("none", "relu", "tanh"),
                     (1, 2), (2, 16), seeds=2)
    finals = {}
    for group in plan(spec):
        snap = None
        for snap in Trainer(group).steps(snapshot_seconds=1e9):
            pass
        finals.update({c.key: f for c, f in zip(group, snap.final, strict=True)})
    table = metric_table(spec, finals, "linear_regions")
    assert (table["none"] == 1).all()                          # a linear network: one region, whatever its shape
    assert np.isnan(table["tanh"]).all()                       # smooth: none to count
    assert (table["relu"][:, 1] > table["relu"][:, 0]).all()   # wider: more regions, at each depth
