"""An exported model reproduces the trained run's predictions on raw (unscaled) features."""
import numpy as np
import pytest

from nonlin_core import datasets
from nonlin_core.config import RunConfig
from nonlin_core.export import export_bytes, load_exported
from nonlin_core.jobs import JobManager
from nonlin_core.store import SQLiteStore


@pytest.fixture
def manager(store_path):
    m = JobManager(SQLiteStore(store_path))
    yield m
    m.shutdown()


@pytest.mark.parametrize("config", [
    RunConfig(epochs=200, standardize=True, activation="tanh"),
    RunConfig(dataset="spiral", n_classes=3, loss="ce", epochs=100, standardize=True, hidden_layers=(16,)),
])
def test_export_round_trip_matches_the_runs_test_accuracy(manager, config):
    handle = manager.submit(config)
    assert handle.wait(60)
    record = manager.store.get(config.key)
    model = load_exported(export_bytes(record))
    data = datasets.load(config)
    raw_test = data.unscale(data.X_test)                         # the file's units, as a user has them
    predicted = model.predict(raw_test)
    accuracy = np.mean([p == data.class_names[y] for p, y in zip(predicted, data.y_test, strict=True)])
    assert accuracy == pytest.approx(record.final["test_acc"])
    assert model.feature_names == list(data.feature_names) and model.class_names == list(data.class_names)


def test_load_refuses_a_file_that_is_not_a_model():
    import io

    import torch
    buf = io.BytesIO()
    torch.save({"weights": torch.zeros(2)}, buf)
    with pytest.raises(ValueError, match="not a nonlin model"):
        load_exported(buf.getvalue())
