"""DATASETS registry: name -> make_x(n_samples, *, noise, seed, n_classes) -> (X, y);
the heart-failure and CSV loaders; stratified split and train-only scaling -> Dataset."""
from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sklearn.datasets import make_blobs, make_circles, make_moons
from sklearn.model_selection import train_test_split

from . import features
from .errors import (
    ChecksumMismatch,
    DataError,
    DatasetMissing,
    DuplicateColumns,
    EmptyData,
    MissingValues,
    NonNumericFeature,
    SingleClass,
    TargetMissing,
    TooFewPerClass,
    TooLarge,
    UnreadableFile,
)
from .limits import CAP_DEFAULTS, cap

if TYPE_CHECKING:      # config imports this module for the dataset names: no import back at run time
    from .config import RunConfig

log = logging.getLogger(__name__)
Generator = Callable[..., tuple[np.ndarray, np.ndarray]]


def make_circles_data(n_samples: int, *, noise: float, seed: int, n_classes: int = 2):
    """Two concentric circles (inner radius 0.8 of the outer). X (n, 2) float, y (n,) in {0, 1}."""
    return make_circles(n_samples, noise=noise, random_state=seed, factor=0.8)


def make_moons_data(n_samples: int, *, noise: float, seed: int, n_classes: int = 2):
    """Two interleaving half circles. X (n, 2), y (n,) in {0, 1}."""
    return make_moons(n_samples, noise=noise, random_state=seed)


def make_xor(n_samples: int, *, noise: float, seed: int, n_classes: int = 2):
    """Uniform points in [-1, 1]^2 labelled by the sign of x0*x1, then jittered. X (n, 2), y (n,)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n_samples, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    return X + rng.normal(0, noise, size=X.shape), y


def make_spiral(n_samples: int, *, noise: float, seed: int, n_classes: int = 2):
    """n_classes interleaved spiral arms (CS231n), radius 0..1. X (n, 2), y (n,) in 0..k-1."""
    rng = np.random.default_rng(seed)
    y = np.arange(n_samples) % n_classes
    r = rng.uniform(0.05, 1.0, n_samples)
    theta = y * 2 * np.pi / n_classes + r * 1.75 * np.pi + rng.normal(0, noise, n_samples) * 2 * np.pi / n_classes
    return np.stack([r * np.sin(theta), r * np.cos(theta)], axis=1), y.astype(np.int64)


def make_blobs_data(n_samples: int, *, noise: float, seed: int, n_classes: int = 2):
    """n_classes Gaussian blobs, centres in [-1, 1]^2, std 0.1 + noise. X (n, 2), y (n,)."""
    return make_blobs(n_samples, centers=n_classes, cluster_std=0.1 + noise, center_box=(-1, 1), random_state=seed)


@dataclass(frozen=True)
class DatasetInfo:
    make: Generator | None
    multiclass: bool = False   # accepts n_classes > 2
    blurb: str = ""


DATASETS: dict[str, DatasetInfo] = {
    "circles": DatasetInfo(make_circles_data, blurb="two concentric circles: no line separates them"),
    "moons": DatasetInfo(make_moons_data, blurb="two interleaving half moons"),
    "xor": DatasetInfo(make_xor, blurb="four quadrants, diagonal ones share a class"),
    "spiral": DatasetInfo(make_spiral, multiclass=True, blurb="k interleaved spiral arms"),
    "blobs": DatasetInfo(make_blobs_data, multiclass=True, blurb="k Gaussian blobs: linearly separable"),
    "heart_failure": DatasetInfo(None, blurb="UCI heart failure records: 299 patients, 12 features"),
    "csv": DatasetInfo(None, multiclass=True, blurb="your own CSV: numeric features, a target column"),
}

# ---- heart failure -------------------------------------------------------------------------
HEART_FILE = "heart_failure_clinical_records_dataset.csv"
HEART_SHA256 = "9c73cea7468ff5d517801ec050fe9993da5912fce4b56f296f8df3b38dd75912"
HEART_TARGET = "DEATH_EVENT"
HEART_PAIR = ("ejection_fraction", "serum_creatinine")  # Chicco & Jurman 2020: these two alone predict
HEART_PACKAGED = Path(__file__).with_name("data") / HEART_FILE   # shipped, unchanged; CC BY 4.0 (data/README.md)


def data_dir() -> Path:
    """NONLIN_DATA_DIR, else $XDG_CACHE_HOME/nonlin (~/.cache/nonlin)."""
    env = os.environ.get("NONLIN_DATA_DIR")
    if env:
        return Path(env).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "nonlin"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def heart_failure_path() -> Path:
    """The sha256-checked heart-failure CSV: the data dir's copy if there is one, else the packaged one.

    Messages name no server path (users read them); the path goes to the log."""
    local = data_dir() / HEART_FILE
    if local.exists():
        _check_heart(local, "the copy in the data folder (NONLIN_DATA_DIR)", "remove it to use the copy shipped with nonlin")
        return local
    if not HEART_PACKAGED.exists():
        log.error("heart_failure: %s is missing (a broken install)", HEART_PACKAGED)
        raise DatasetMissing(f"heart_failure: the data file is not installed; reinstall nonlin or put {HEART_FILE} "
                             "into the data folder (NONLIN_DATA_DIR)")
    _check_heart(HEART_PACKAGED, "the copy shipped with nonlin", "reinstall nonlin")
    return HEART_PACKAGED


def _check_heart(path: Path, which: str, remedy: str) -> None:
    try:
        digest = sha256_bytes(path.read_bytes())
    except OSError as exc:
        log.error("heart_failure: cannot read %s (%s)", path, exc)
        raise UnreadableFile(f"heart_failure: {which} cannot be read ({exc.strerror or 'I/O error'})") from None
    if digest != HEART_SHA256:
        log.error("heart_failure: %s has sha256 %s, expected %s", path, digest, HEART_SHA256)
        raise ChecksumMismatch(f"heart_failure: {which} has sha256 {digest[:12]}…, expected {HEART_SHA256[:12]}…: "
                               f"not the UCI file; {remedy}")


# ---- CSV -------------------------------------------------------------------------------------
def csv_caps() -> dict[str, int]:
    """Row / column / size caps for CSV data (env NONLIN_MAX_CSV_ROWS, _COLS, _MB)."""
    return {"rows": cap("csv_rows", 20_000), "cols": cap("csv_cols", 100), "mb": cap("csv_mb", 10)}


def read_table(data: bytes, target: str, *, name: str = "CSV"):
    """Parse CSV bytes -> (X float64 (n, d), y labels (n,), feature names, class names).

    Raises a DataError subclass with a specific message for each problem."""
    import warnings

    import pandas as pd

    limits = csv_caps()
    if len(data) > limits["mb"] * 1024 * 1024:
        raise TooLarge(f"{name}: {len(data) / 1e6:.1f} MB is over the {limits['mb']} MB cap")
    if not data.strip():
        raise EmptyData(f"{name}: the file is empty")
    if b"\x00" in data[:65536] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UnreadableFile(f"{name}: this is a binary file, not a CSV (save the sheet as CSV, UTF-8)")
    text = _decode(data, name)
    if not text.strip():
        raise EmptyData(f"{name}: the file is empty")
    first = text.split("\n", 1)[0].split("\r", 1)[0]               # also old Mac files: \r only
    sep = "," if "," in first else ";" if ";" in first else "\t" if "\t" in first else ","
    try:
        header = next(csv.reader(io.StringIO(first), delimiter=sep, skipinitialspace=True), [])   # as pandas reads it
    except csv.Error as exc:
        raise UnreadableFile(f"{name}: not a readable CSV ({exc})") from None

    def check_columns(names: list[str]) -> None:
        dupes = sorted({h for h in names if names.count(h) > 1})
        if dupes:
            raise DuplicateColumns(f"{name}: duplicate column name(s): {', '.join(repr(d) for d in dupes)}")
        if len(names) > limits["cols"]:
            raise TooLarge(f"{name}: {len(names)} columns is over the {limits['cols']}-column cap")

    check_columns([h.strip() for h in header])                  # before pandas renames 'a','a' to 'a','a.1'
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)   # index_col=False warns on rows longer than the header
            frame = pd.read_csv(io.StringIO(text), sep=sep, nrows=limits["rows"] + 1, skipinitialspace=True, index_col=False)
    except pd.errors.ParserWarning:
        raise UnreadableFile(f"{name}: some rows have more fields than the header; "
                             f"check the separator ({sep!r}) and the quoting") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error, ValueError) as exc:
        raise UnreadableFile(f"{name}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    check_columns(list(frame.columns))                          # a quoted newline in the header hides from `first`
    if len(frame) > limits["rows"]:
        raise TooLarge(f"{name}: more than {limits['rows']} rows (the row cap)")
    if len(frame) == 0:
        raise EmptyData(f"{name}: a header but no data rows")
    if target not in frame.columns:
        raise TargetMissing(f"{name}: no column named {target!r}; columns are: {', '.join(frame.columns[:20])}")
    features = [c for c in frame.columns if c != target]
    if not features:
        raise EmptyData(f"{name}: no feature columns besides the target {target!r}")
    missing = [c for c in frame.columns if frame[c].isna().any()]
    if missing:
        counts = ", ".join(f"{c} ({int(frame[c].isna().sum())} rows)" for c in missing[:10])
        raise MissingValues(f"{name}: missing values in {counts}; fill or drop them first")
    for col in features:
        if not pd.api.types.is_numeric_dtype(frame[col]) or pd.api.types.is_bool_dtype(frame[col]):
            converted = pd.to_numeric(frame[col], errors="coerce") if not pd.api.types.is_bool_dtype(frame[col]) else None
            if converted is None or converted.isna().any():
                bad = frame[col][converted.isna()].iloc[0] if converted is not None else frame[col].iloc[0]
                raise NonNumericFeature(f"{name}: feature column {col!r} is not numeric (e.g. {str(bad)[:30]!r}); "
                                        "encode it as numbers or drop it")
            frame[col] = converted
    X = frame[features].to_numpy(dtype=np.float64)
    if not np.isfinite(X).all():
        bad_cols = [c for c, ok in zip(features, np.isfinite(X).all(axis=0)) if not ok]
        raise MissingValues(f"{name}: infinite values in {', '.join(bad_cols[:10])}")
    labels, y = np.unique(frame[target].astype(str).to_numpy(), return_inverse=True)
    if len(labels) < 2:
        raise SingleClass(f"{name}: target {target!r} has one class only ({labels[0]!r}); need two or more")
    max_classes = cap("classes", CAP_DEFAULTS["classes"])
    if len(labels) > max_classes:
        raise TooLarge(f"{name}: target {target!r} has {len(labels)} classes, over the cap of {max_classes} "
                       "(is it a continuous column?)")
    counts = np.bincount(y)
    if counts.min() < 2:
        rare = labels[counts.argmin()]
        raise TooFewPerClass(f"{name}: class {rare!r} of {target!r} has only {counts.min()} row; "
                             "each class needs at least 2 for a stratified split")
    return X, y.astype(np.int64), features, [str(c) for c in labels]


def _decode(data: bytes, name: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"{name}: not UTF-8 text (byte 0x{data[exc.start]:02x} at position {exc.start}); "
                             "save it as 'CSV UTF-8'") from None


def read_csv_file(path: str | os.PathLike) -> bytes:
    """Bytes of a user CSV, or UnreadableFile."""
    p = Path(path)
    try:
        return p.read_bytes()
    except OSError as exc:
        raise UnreadableFile(f"{p}: cannot read ({exc.strerror or exc})") from None


# ---- split + scaling -------------------------------------------------------------------------
@dataclass(frozen=True)
class Dataset:
    """Split, scaled arrays (float64) plus what plots and reports need. X_* are the model's inputs (the
    config's features of the raw inputs, scaled); the boundary is drawn over two raw inputs (default_pair)."""
    name: str
    X_train: np.ndarray        # (n_train, d)
    y_train: np.ndarray        # (n_train,) int64 class index
    X_test: np.ndarray         # (n_test, d)
    y_test: np.ndarray
    feature_names: tuple[str, ...]   # (d,) the model inputs
    class_names: tuple[str, ...]
    default_pair: tuple[int, int]    # indices into the raw inputs
    mean: np.ndarray           # (d,) train mean before scaling
    scale: np.ndarray          # (d,) train std before scaling (ones if not standardized)
    input_names: tuple[str, ...] = ()        # (d_raw,) the raw inputs; () = feature_names
    inputs_train: np.ndarray | None = None   # (n_train, d_raw) raw inputs, the data's units; None = unscaled X_train
    inputs_test: np.ndarray | None = None    # (n_test, d_raw)

    @property
    def raw_names(self) -> tuple[str, ...]:
        return self.input_names or self.feature_names

    @property
    def raw_train(self) -> np.ndarray:
        return self.unscale(self.X_train) if self.inputs_train is None else self.inputs_train

    @property
    def raw_test(self) -> np.ndarray:
        return self.unscale(self.X_test) if self.inputs_test is None else self.inputs_test

    def encode(self, R: np.ndarray) -> np.ndarray:
        """Raw inputs (n, d_raw) in the data's units -> model inputs (n, d): features, then scaling."""
        return (features.compute(self.feature_names, R, self.raw_names) - self.mean) / self.scale

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def unscale(self, X: np.ndarray) -> np.ndarray:
        """Back to the file's units (for axes)."""
        return X * self.scale + self.mean


def raw_data(config: RunConfig):
    """(X, y, feature names, class names, default pair) before split and scaling."""
    info = DATASETS[config.dataset]
    if info.make is not None:
        if config.n_classes != 2 and not info.multiclass:
            raise DataError(f"{config.dataset}: has 2 classes; n_classes={config.n_classes} is for spiral/blobs")
        X, y = info.make(config.n_samples, noise=config.noise, seed=config.data_seed, n_classes=config.n_classes)
        return X, y.astype(np.int64), ("x1", "x2"), tuple(str(i) for i in range(config.n_classes)), (0, 1)
    if config.dataset == "heart_failure":
        X, y, feats, classes = read_table(heart_failure_path().read_bytes(), HEART_TARGET, name=HEART_FILE)
        return X, y, tuple(feats), ("survived", "died"), (feats.index(HEART_PAIR[0]), feats.index(HEART_PAIR[1]))
    data = read_csv_file(config.csv_path)
    if config.csv_sha256 and sha256_bytes(data) != config.csv_sha256:
        raise ChecksumMismatch(f"{config.csv_path}: the file changed since this run was configured")
    X, y, feats, classes = read_table(data, config.target, name=Path(config.csv_path).name)
    return X, y, tuple(feats), tuple(classes), (0, 1 if len(feats) > 1 else 0)


def load(config: RunConfig) -> Dataset:
    """Generate or read the data, split it by data_seed (stratified unless seeding is torch), scale on train only."""
    X, y, feats, classes, pair = raw_data(config)
    if config.plot_features:
        if max(config.plot_features) >= len(feats):
            raise DataError(f"plot_features: {config.plot_features} but the data has {len(feats)} features")
        pair = tuple(config.plot_features)
    n_classes = len(classes)
    from .losses import output_width  # lazily: torch is not needed to read data
    if output_width(config.loss, n_classes) == 1 and n_classes > 2:
        raise DataError(f"loss {config.loss}: the data has {n_classes} classes; use loss 'ce'")
    n_test = max(n_classes, round(len(y) * config.test_size))
    if len(y) - n_test < n_classes:
        raise DataError(f"{config.dataset}: {len(y)} rows are too few to split with test_size {config.test_size}")
    if config.seeding == "torch":   # as tutorials split: the share as given, not stratified
        R_tr, R_te, y_tr, y_te = train_test_split(X, y, test_size=config.test_size, random_state=config.data_seed)
    else:
        R_tr, R_te, y_tr, y_te = train_test_split(X, y, test_size=n_test, stratify=y, random_state=config.data_seed)
    names = features.resolve(config.features, feats)
    X_tr, X_te = features.compute(names, R_tr, feats), features.compute(names, R_te, feats)
    mean, scale = np.zeros(X_tr.shape[1]), np.ones(X_tr.shape[1])
    if config.standardize:
        mean, scale = X_tr.mean(axis=0), X_tr.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        X_tr, X_te = (X_tr - mean) / scale, (X_te - mean) / scale
    return Dataset(config.dataset, X_tr, y_tr, X_te, y_te, names, classes, pair, mean, scale, feats, R_tr, R_te)
