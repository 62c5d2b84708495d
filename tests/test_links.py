"""Links: Compare and Sweep specs round-trip through the query string; a malformed value names its param."""
import pytest

from nonlin_core import links
from nonlin_core.compare import CompareSpec
from nonlin_core.config import ConfigError, RunConfig
from nonlin_core.sweep import SweepSpec

SWEEP_DEFAULT = SweepSpec(RunConfig(hidden_layers=(), optimizer="adam", lr=0.03, epochs=300),
                          ("none", "relu", "tanh"), (0, 1, 2, 3), (2, 4, 8, 16), 4)


@pytest.mark.parametrize("spec", [
    CompareSpec(RunConfig(dataset="moons", noise=0.2, hidden_layers=(8, 8), epochs=120), "activation",
                ("none", "relu", "gelu"), 5),
    CompareSpec(RunConfig(activation="tanh", hidden_layers=(), epochs=40), "lr", (0.01, 0.3), 1),
])
def test_compare_spec_round_trips_through_the_query(spec):
    query = spec.to_query()
    assert all(isinstance(v, str) for v in query.values())
    again = CompareSpec.from_query(query)
    assert again == spec and [c.key for c in again.configs()] == [c.key for c in spec.configs()]


def test_sweep_spec_round_trips_and_absent_params_are_the_default():
    spec = SweepSpec(RunConfig(dataset="spiral", n_classes=3, loss="ce", hidden_layers=(), optimizer="adam",
                               lr=0.01, epochs=200), ("relu", "elu"), (1, 3), (4, 32), 2)
    assert SweepSpec.from_query(spec.to_query(), SWEEP_DEFAULT) == spec
    assert SweepSpec.from_query({}, SWEEP_DEFAULT) == SWEEP_DEFAULT


@pytest.mark.parametrize("params, field", [
    ({"vary": "depth", "values": "1,2"}, "vary"),
    ({"vary": "activation", "values": "relu,bogus"}, "values"),
    ({"vary": "lr", "values": "0.1,fast"}, "values"),
    ({"vary": "lr", "values": "0.1,99"}, "lr"),
    ({"vary": "activation", "values": "relu,tanh", "seeds": "many"}, "seeds"),
    ({"vary": "activation", "values": "relu,tanh", "seeds": "0"}, "seeds"),
    ({"vary": "activation", "values": "relu,tanh", "epochs": "-3"}, "epochs"),
    ({"vary": "activation", "values": ""}, "values"),
])
def test_a_malformed_compare_link_names_the_field(params, field):
    with pytest.raises(ConfigError, match=f"^{field}"):
        CompareSpec.from_query(params)


@pytest.mark.parametrize("params, field", [
    ({"activations": "relu,swish2"}, "activations"),
    ({"depths": "1,x"}, "depths"),
    ({"depths": "1,99"}, "depths"),
    ({"widths": "0"}, "widths"),
    ({"seeds": "17"}, "seeds"),
    ({"lr": "nan-ish"}, "lr"),
    ({"activations": ""}, "sweep"),
])
def test_a_malformed_sweep_link_names_the_field(params, field):
    with pytest.raises(ConfigError, match=f"^{field}"):
        SweepSpec.from_query(params, SWEEP_DEFAULT)


def test_hide_names_config_fields_only_and_present_reads_yes_words():
    assert links.hidden_controls({"hide": "optimizer,lr,batch_size"}) == {"optimizer", "lr", "batch_size"}
    assert links.hidden_controls({}) == frozenset()
    with pytest.raises(ConfigError, match="^hide: colour"):
        links.hidden_controls({"hide": "lr,colour"})
    assert links.truthy({"present": "1"}, "present") and not links.truthy({"present": "0"}, "present")
    assert not links.truthy({}, "present")
