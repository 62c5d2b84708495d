"""Seeding mode 'torch': the tutorials' way (torch.manual_seed(seed), then the layers in order with PyTorch's
default init, then DataLoader's shuffles from the global RNG; an unstratified split). The default ('nonlin')
keeps the keys of configs made before the field existed."""
import hashlib
import itertools
import json

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from nonlin_core import datasets
from nonlin_core.config import FIELDS, ConfigError, RunConfig
from nonlin_core.reference import textbook_train
from nonlin_core.training import METRICS, train
from nonlin_core.tuning import configure_process


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    configure_process(freeze_gc=False)


def _key_without(config: RunConfig, field: str) -> str:
    data = {f.name: list(v) if isinstance(v := getattr(config, f.name), tuple) else v
            for f in FIELDS if f.name != field and not f.since}   # the canonical JSON as it was before the new fields
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


@pytest.mark.parametrize("config", [RunConfig(), RunConfig(dataset="moons", activation="tanh", hidden_layers=(4,))])
def test_default_seeding_keeps_the_keys_of_existing_configs(config):
    assert config.seeding == "nonlin"
    assert config.key == _key_without(config, "seeding")
    assert "seeding" not in json.loads(config.to_json())
    assert RunConfig.from_dict(config.to_dict()) == config


def test_default_config_key_is_the_one_stored_before_the_field():
    assert RunConfig().key == "41d5eded8a99a876"       # main's key of RunConfig() before seeding existed


def test_torch_seeding_is_part_of_the_key_and_round_trips():
    torch_cfg = RunConfig(seeding="torch")
    assert torch_cfg.key != RunConfig().key
    assert RunConfig.from_query(torch_cfg.to_query()) == torch_cfg
    assert RunConfig.from_dict(json.loads(torch_cfg.to_json())).key == torch_cfg.key
    with pytest.raises(ConfigError, match="seeding"):
        RunConfig(seeding="numpy")


def test_torch_seeding_splits_like_train_test_split_unstratified():
    config = RunConfig(dataset="moons", n_samples=203, noise=0.2, test_size=0.2, data_seed=7, seeding="torch")
    X, y = datasets.make_moons_data(203, noise=0.2, seed=7)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, random_state=7)
    data = datasets.load(config)
    np.testing.assert_array_equal(data.X_train, X_tr)
    np.testing.assert_array_equal(data.y_test, y_te)
    assert not np.array_equal(datasets.load(config.replace(seeding="nonlin")).y_test, y_te)   # stratified differs


@pytest.mark.parametrize(("batch_size", "loss"), list(itertools.product([0, 32], ["bce", "ce"])))
def test_engine_with_torch_seeding_equals_the_literal_tutorial_loop(batch_size, loss):
    extra = {"dataset": "spiral", "n_classes": 3} if loss == "ce" else {"dataset": "circles"}
    config = RunConfig(n_samples=100, noise=0.1, hidden_layers=(8, 6), activation="tanh", epochs=15, dtype="float64",
                       device="cpu", optimizer="adam", lr=0.01, batch_size=batch_size, loss=loss, seeding="torch",
                       **extra)
    data = datasets.load(config)
    snap = train(config)
    reference = textbook_train(config, data)        # torch.manual_seed + nn.Linear() + DataLoader(shuffle=True)
    for m in METRICS:                               # accuracies: the textbook's float32 mean
        np.testing.assert_allclose(snap.history[m][0], reference[m], rtol=0, atol=1e-6, err_msg=m)
    for m in ("train_loss", "test_loss"):
        np.testing.assert_allclose(snap.history[m][0], reference[m], rtol=1e-10, atol=0, err_msg=m)
    other = train(config.replace(seeding="nonlin"))
    assert not np.allclose(other.history["train_loss"][0], snap.history["train_loss"][0])
