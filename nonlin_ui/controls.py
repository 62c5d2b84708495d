"""Playground sidebar: widget state <-> RunConfig, per-dataset presets, URL params and CSV upload."""
from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from pathlib import Path

import streamlit as st

from nonlin_core import datasets
from nonlin_core.compare import CompareSpec
from nonlin_core.config import FIELD_BY_NAME, ConfigError, RunConfig, caps
from nonlin_core.datasets import DATASETS
from nonlin_core.errors import ChecksumMismatch, DataError, DatasetMissing
from nonlin_core.links import VIEW_PARAMS
from nonlin_core.models import ACTIVATIONS
from nonlin_core.store import local_dir
from nonlin_core.uploads import csv_columns, is_upload, save_upload

from . import network_controls as net
from . import projector

log = logging.getLogger("nonlin")
LR_STEPS = (1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
BATCH_STEPS = (0, 8, 16, 32, 64, 128, 256, 512)
MOMENTUM_STEPS = (0.0, 0.5, 0.9, 0.95, 0.99)
_PATH = re.compile(r"(?<![\w.])/(?:[^\s/:'\"]+/)+([^\s/:'\"]+)")   # an absolute path; group 1: its file name
NO_HIDDEN_LAYER = "No hidden layer: the activation has nothing to act on."

# per dataset: defaults that train visibly for a few seconds (mini-batches, a few hundred epochs)
PRESETS: dict[str, dict] = {
    "circles": {"batch_size": 32, "epochs": 600},
    "moons": {"noise": 0.2, "batch_size": 32, "epochs": 1000},
    "xor": {"noise": 0.05, "batch_size": 32, "epochs": 600},
    "spiral": {"n_classes": 3, "noise": 0.1, "loss": "ce", "hidden_layers": (32, 32), "optimizer": "adam",
               "lr": 0.01, "batch_size": 32, "epochs": 600},
    "blobs": {"n_classes": 3, "noise": 0.1, "loss": "ce", "batch_size": 32, "epochs": 300},
    "heart_failure": {"standardize": True, "test_size": 0.25, "hidden_layers": (16,), "optimizer": "adam",
                      "lr": 0.01, "batch_size": 32, "epochs": 200},
    "csv": {"standardize": True, "optimizer": "adam", "lr": 0.01, "batch_size": 32, "epochs": 300},
}


def display_name(dataset: str) -> str:
    """'heart_failure' -> 'heart failure': how every page names a dataset."""
    return {"csv": "CSV upload"}.get(dataset, dataset.replace("_", " "))


def data_message(exc: Exception, dataset: str) -> str:
    """What a user reads when a dataset cannot be loaded: never a server path (the full error goes to the log)."""
    log.warning("dataset %s cannot be loaded: %s", dataset, exc)
    if isinstance(exc, (OSError, DatasetMissing)) or "cannot read" in str(exc) or (
            isinstance(exc, ChecksumMismatch) and dataset != "csv"):
        if dataset == "csv":
            return "The uploaded CSV is not on this server any more: upload the file again."
        return (f"The {display_name(dataset)} data is not available on this server, so it cannot train here. "
                "Pick another dataset; the server's log says what is missing.")
    text, stored, shown = str(exc), Path(st.session_state.get("pg_csv_path") or "").name, st.session_state.get(
        "pg_csv_name")
    if dataset == "csv" and stored and shown:
        text = text.replace(stored, shown)                           # the user's own file name
    return _PATH.sub(lambda m: m.group(1), text)


def preset(dataset: str) -> RunConfig:
    """The dataset's defaults (for 'csv' without the file, which the upload supplies)."""
    if dataset == "csv":
        return RunConfig.within_caps(**PRESETS["csv"])
    return RunConfig.within_caps(dataset=dataset, **PRESETS.get(dataset, {}))


def _state_of(config: RunConfig, dataset: str | None = None) -> dict:
    hidden = config.hidden_layers
    return {
        "pg_dataset": dataset or config.dataset, "pg_samples": config.n_samples, "pg_noise": config.noise,
        "pg_classes": config.n_classes, "pg_data_seed": config.data_seed, "pg_test": config.test_size,
        "pg_standardize": config.standardize, "pg_depth": len(hidden), "pg_width": hidden[0] if hidden else 10,
        "pg_hidden_custom": list(hidden) if len(set(hidden)) > 1 else None, "pg_optimizer": config.optimizer,
        "pg_lr": config.lr, "pg_momentum": config.momentum, "pg_batch": config.batch_size,
        "pg_epochs": config.epochs, "pg_seed": config.seed, "pg_base": config.to_json(),
        "pg_pair_x": config.plot_features[0] if config.plot_features else None,
        "pg_pair_y": config.plot_features[1] if config.plot_features else None,
        "pg_csv_path": config.csv_path, "pg_csv_sha": config.csv_sha256, "pg_target": config.target or None,
        **net.state_of(config),
    }


def init_from_url() -> str:
    """First Playground run of a session: widget state from the URL's params, else the circles preset.
    Returns a message naming the bad field when the params could not be used."""
    opened = st.session_state.pop("pg_open", None)         # set by open_in_playground (Runs, Sweep)
    if "pg_dataset" in st.session_state and opened is None:
        return ""
    params = st.query_params.to_dict()
    config, error = preset("circles"), projector.read_hidden()
    try:
        if opened is not None:
            config = RunConfig.from_dict(json.loads(opened))
        elif any(k in FIELD_BY_NAME for k in params):
            config = RunConfig.from_query(_upload_by_hash(params))
        if config.dataset == "csv" and not is_upload(config.csv_path, config.csv_sha256, upload_dir()):
            raise ConfigError("csv_path: not a file uploaded to this server (upload the CSV again)")
    except ConfigError as exc:
        config, error = preset("circles"), f"The link's settings were not used (defaults instead): {exc}"
        st.session_state.hide_fields = frozenset()        # nothing is fixed when the link's values are not used
    st.session_state.update(_state_of(config))
    st.session_state.pg_activation = config.activation
    return error


def _upload_by_hash(params: dict[str, str]) -> dict[str, str]:
    """A link names an uploaded CSV by its content hash: the path is this server's file of that hash (a path in
    the link is never used); ConfigError when the link has no well-formed hash."""
    named_path = "csv_path" in params
    params = {k: v for k, v in params.items() if k != "csv_path"}
    if params.get("dataset") != "csv" or not (named_path or "csv_sha256" in params):
        return params                                   # no file named at all: RunConfig says what is missing
    sha = params.get("csv_sha256", "")
    if not re.fullmatch(r"[0-9a-f]{64}", sha):
        raise ConfigError("csv_sha256: not a file uploaded to this server (a link names an upload by its content "
                          "hash); upload the file again")
    return {**params, "csv_path": str(upload_dir() / f"{sha}.csv")}     # absent here: the page says so


def link_query(config: RunConfig) -> dict[str, str]:
    """The Playground's link params: the config (an upload by its hash, never its path) and the view options."""
    query = {k: v for k, v in config.to_query().items() if k != "csv_path"}
    return {**query, **{k: v for k, v in st.query_params.to_dict().items() if k in VIEW_PARAMS}}


def sync_url(config: RunConfig) -> None:
    """Reflect the config in the URL so the run can be shared."""
    query = link_query(config)
    if st.query_params.to_dict() != query:
        st.query_params.from_dict(query)


def _apply_preset() -> None:
    s = st.session_state
    s.update(_state_of(preset(s.pg_dataset), dataset=s.pg_dataset))   # the activation stays as chosen


def _with_value(steps: tuple, value) -> list:
    return sorted(set(steps) | {value})


@st.cache_data(show_spinner=False, max_entries=32)
def describe(dataset: str, csv_path: str = "", csv_sha256: str = "", target: str = ""):
    """(feature names, class names, default pair) of a dataset before splitting."""
    config = RunConfig.within_caps(dataset=dataset, csv_path=csv_path, csv_sha256=csv_sha256, target=target)
    _, _, features, classes, pair = datasets.raw_data(config)
    return features, classes, pair


def _csv_controls(sb) -> bool:
    """Upload, target column; True when a usable file and target are set."""
    s = st.session_state
    upload = sb.file_uploader("CSV file (numeric features, a target column)", type=["csv", "txt"], key="upload_csv")
    if upload is not None:
        data = upload.getvalue()
        try:
            columns = csv_columns(data, name=upload.name)
        except DataError as exc:
            sb.error(str(exc))
            return False
        path, digest = save_upload(data, upload_dir())
        if digest != s.get("pg_csv_sha"):
            s.pg_csv_path, s.pg_csv_sha, s.pg_target = str(path), digest, columns[-1]
            s.pg_pair_x = s.pg_pair_y = None
        s.pg_csv_name = upload.name
    if not s.get("pg_csv_path"):
        sb.info("Upload a CSV to train on it.")
        return False
    try:
        with open(s.pg_csv_path, "rb") as fh:
            columns = csv_columns(fh.read())
    except (OSError, DataError) as exc:
        sb.error(data_message(exc, "csv"))
        return False
    if s.get("pg_target") not in columns:
        if s.get("pg_target"):
            sb.warning(f"Target column {s.pg_target!r} is not in this file; using {columns[-1]!r}.")
        s.pg_target = columns[-1]
    sb.selectbox("Target column", columns, key="pg_target")
    return True


def _pair_controls(sb, features: tuple[str, ...], default_pair: tuple[int, int]) -> tuple[int, ...]:
    s = st.session_state
    n = len(features)
    for key, fallback in (("pg_pair_x", default_pair[0]), ("pg_pair_y", default_pair[1])):
        if s.get(key) not in range(n):
            s[key] = fallback
    label = lambda i: features[i]
    sb.selectbox("Boundary plot: x feature", range(n), key="pg_pair_x", format_func=label)
    sb.selectbox("Boundary plot: y feature", range(n), key="pg_pair_y", format_func=label)
    pair = (s.pg_pair_x, s.pg_pair_y)
    if pair[0] == pair[1]:
        sb.warning("Pick two different features to plot.")
        return ()
    return () if pair == tuple(default_pair) else pair


def sidebar(on_activation: Callable[[], None] | None = None) -> RunConfig | None:
    """All Playground controls; the RunConfig they describe, or None (with a message) when incomplete.
    on_activation: the Activation pills' callback (nonlin_ui.runs.activation_click)."""
    s, sb, limits = st.session_state, projector.sidebar(), caps()
    # a stored run opened here may be above today's caps (reading it is no request): Train checks them
    limits |= {name: max(limits[name], s.get(f"pg_{name}", 0)) for name in ("samples", "classes", "depth", "width", "epochs")}
    sb.subheader("Data")
    sb.selectbox("Dataset", list(DATASETS), key="pg_dataset", on_change=_apply_preset,
                 format_func=display_name)
    dataset = s.pg_dataset
    info = DATASETS[dataset]
    sb.caption(info.blurb)
    fields: dict = {"dataset": dataset, "csv_path": "", "csv_sha256": "", "target": "", "plot_features": ()}
    n_classes, columns = 2, ()
    usable = dataset != "csv" or _csv_controls(sb)      # the rest of the controls stay either way
    if info.make is not None:
        sb.number_input("Samples", 20, limits["samples"], step=50, key="pg_samples")
        sb.number_input("Noise", 0.0, 2.0, step=0.01, format="%.2f", key="pg_noise")
        if info.multiclass:
            sb.slider("Classes", 2, limits["classes"], key="pg_classes")
            n_classes = s.pg_classes
        fields.update(n_samples=s.pg_samples, noise=s.pg_noise, n_classes=n_classes)
    else:
        sb.checkbox("Standardize features", key="pg_standardize")
        fields.update(standardize=s.pg_standardize)
        if usable and dataset == "csv":
            fields.update(csv_path=s.pg_csv_path, csv_sha256=s.pg_csv_sha, target=s.pg_target)
        try:
            features, classes, default_pair = describe(dataset, fields["csv_path"], fields["csv_sha256"],
                                                       fields["target"]) if usable else ((), (), (0, 1))
        except DataError as exc:
            st.error(data_message(exc, dataset))
            usable = False
        else:
            n_classes, columns = len(classes) or 2, features
            if usable:
                fields.update(plot_features=_pair_controls(sb, features, default_pair))
    sb.slider("Test share", 0.05, 0.9, step=0.05, key="pg_test")
    sb.number_input("Data seed", 0, 2**31 - 1, key="pg_data_seed")
    picked = net.feature_controls(sb, info.make is not None, columns) if info.make is not None or columns else ""

    sb.subheader("Model")
    sb.slider("Hidden layers", 0, limits["depth"], key="pg_depth", on_change=net.uniform_widths)
    sb.slider("Units per layer", 1, limits["width"], key="pg_width", on_change=net.uniform_widths)
    widths_ok = net.width_controls(sb, limits["depth"], limits["width"])
    hidden = tuple(s.pg_hidden_custom or (s.pg_width,) * s.pg_depth)
    sb.pills("Activation", list(ACTIVATIONS), key="pg_activation", required=True, disabled=not hidden,
             on_change=on_activation)
    if not hidden:
        sb.caption(NO_HIDDEN_LAYER)

    sb.subheader("Training")
    sb.segmented_control("Optimizer", ["sgd", "adam", "adamw"], key="pg_optimizer", required=True)
    sb.select_slider("Learning rate", _with_value(LR_STEPS, s.pg_lr), key="pg_lr", format_func=lambda v: f"{v:g}")
    if s.pg_optimizer == "sgd":
        sb.select_slider("Momentum", _with_value(MOMENTUM_STEPS, s.pg_momentum), key="pg_momentum")
    sb.select_slider("Batch size", _with_value(BATCH_STEPS, s.pg_batch), key="pg_batch",
                     format_func=lambda b: "full" if b == 0 else str(b))
    sb.number_input("Epochs", 1, limits["epochs"], step=50, key="pg_epochs")
    sb.number_input("Seed", 0, 2**31 - 1, key="pg_seed")
    regularization = net.regularization_controls(sb)
    if not usable or picked is None or not widths_ok:
        return None
    try:
        base = RunConfig.from_dict(json.loads(s.pg_base)) if s.get("pg_base") else RunConfig.within_caps()
        if base.dataset == "csv":
            base = base.replace(dataset="circles", csv_path="", csv_sha256="", target="")
        return base.replace(**fields, test_size=s.pg_test, data_seed=s.pg_data_seed, hidden_layers=hidden,
                            activation=s.pg_activation, loss="ce" if n_classes > 2 else "bce",
                            optimizer=s.pg_optimizer, lr=s.pg_lr,
                            momentum=s.pg_momentum if s.pg_optimizer == "sgd" else 0.0,
                            batch_size=s.pg_batch, epochs=s.pg_epochs, seed=s.pg_seed, features=picked,
                            **regularization)
    except ConfigError as exc:
        st.error(str(exc))
        return None



def next_runs(config: RunConfig) -> dict[str, dict[str, str]]:
    """The run each Activation pill selects from this config: {"pg_activation": {name: config key}} (the page
    shows a run it has drawn before at once, nonlin_ui.bridge)."""
    return {"pg_activation": {name: config.replace(activation=name).key for name in ACTIVATIONS}}

# ---- Compare ----------------------------------------------------------------------------------
VARY = {"activation": "activation", "learning rate": "lr"}
COMPARE_DEFAULTS = {"cmp_dataset": "circles", "cmp_vary": "activation", "cmp_acts": ["none", "relu", "tanh"],
                    "cmp_lrs": [0.01, 0.1, 1.0], "cmp_activation": "relu", "cmp_depth": 2, "cmp_width": 10,
                    "cmp_epochs": 300, "cmp_seeds": 8}
MAX_SEEDS = 64


def compare_sidebar() -> CompareSpec | None:
    """Compare controls -> the models and seeds to compare; None (with a message) when incomplete."""
    s, sb, limits = st.session_state, st.sidebar, caps()
    for key, value in COMPARE_DEFAULTS.items():
        s.setdefault(key, value)
    sb.subheader("Data")
    sb.selectbox("Dataset", [d for d in DATASETS if d != "csv"], key="cmp_dataset",
                 format_func=display_name)
    sb.caption(DATASETS[s.cmp_dataset].blurb)
    sb.subheader("Models")
    sb.segmented_control("Vary", list(VARY), key="cmp_vary", required=True)
    if s.cmp_vary == "activation":
        sb.pills("Activations (2–4)", list(ACTIVATIONS), key="cmp_acts", selection_mode="multi")
        values = [a for a in ACTIVATIONS if a in s.cmp_acts]
    else:
        sb.pills("Learning rates (2–4)", list(LR_STEPS), key="cmp_lrs", selection_mode="multi",
                 format_func=lambda v: f"{v:g}")
        sb.selectbox("Activation", list(ACTIVATIONS), key="cmp_activation")
        values = sorted(s.cmp_lrs)
    sb.slider("Hidden layers", 0, limits["depth"], key="cmp_depth")
    sb.slider("Units per layer", 1, limits["width"], key="cmp_width")
    sb.number_input("Epochs", 1, limits["epochs"], step=50, key="cmp_epochs")
    sb.number_input("Seeds per model", 1, MAX_SEEDS, key="cmp_seeds",
                    help="each model trains once per seed, all models and seeds in one batched job; curves show "
                         "mean ± std, and each pair of models gets a paired 95% interval over the seeds")
    if not 2 <= len(values) <= 4:
        st.info(f"Pick two to four values to compare ({len(values)} picked).")
        return None
    field, n_seeds = VARY[s.cmp_vary], int(s.cmp_seeds)
    base = preset(s.cmp_dataset).replace(hidden_layers=(s.cmp_width,) * s.cmp_depth, epochs=s.cmp_epochs)
    if field == "lr":
        base = base.replace(activation=s.cmp_activation)
    try:
        spec = CompareSpec(base, field, tuple(values), n_seeds)
        spec.configs()                               # every member valid before a page shows it
    except ConfigError as exc:
        st.error(str(exc))
        return None
    return spec


def compare_state(params: dict[str, str]) -> dict:
    """A Compare link's params -> the page's widget state; ConfigError naming the first bad field."""
    spec = CompareSpec.from_query(params)
    base = spec.base
    if base.dataset == "csv":
        raise ConfigError("dataset: Compare trains the built-in datasets, not an upload")
    if spec.field == "lr" and (odd := [v for v in spec.values if v not in LR_STEPS]):
        raise ConfigError(f"values: {odd[0]:g} is not one of the offered rates ({', '.join(f'{v:g}' for v in LR_STEPS)})")
    if len(set(base.hidden_layers)) > 1:
        raise ConfigError("hidden_layers: Compare's layers share one width")
    state = {"cmp_dataset": base.dataset, "cmp_vary": next(k for k, v in VARY.items() if v == spec.field),
             "cmp_depth": len(base.hidden_layers), "cmp_epochs": base.epochs, "cmp_seeds": spec.seeds}
    if base.hidden_layers:
        state["cmp_width"] = base.hidden_layers[0]
    if spec.field == "lr":
        state.update(cmp_lrs=list(spec.values), cmp_activation=base.activation)
    else:
        state["cmp_acts"] = list(spec.values)
    return state


def upload_dir() -> Path:
    """Where uploads are kept: beside the run store (the data dir may be read-only)."""
    return local_dir() / "uploads"


def open_in_playground(config: RunConfig) -> None:
    """Show this config on the Playground (a finished run comes from the store at once)."""
    st.session_state.pg_open = config.to_json()
    st.switch_page("pages/playground.py")
