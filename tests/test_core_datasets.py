"""Generators keep their promised geometry; the split is stratified and scaled on train only;
the heart-failure file is verified, shipped for offline use, and a broken one fails with a clear message."""
from __future__ import annotations

import csv
import hashlib
import inspect
import urllib.request

import numpy as np
import pytest

from nonlin_core import RunConfig, datasets
from nonlin_core.errors import ChecksumMismatch, DataError, DatasetMissing

GENERATED = [name for name, info in datasets.DATASETS.items() if info.make is not None]
TAU = 2 * np.pi


def make(name: str, n: int = 400, noise: float = 0.0, seed: int = 0, k: int = 2):
    return datasets.DATASETS[name].make(n, noise=noise, seed=seed, n_classes=k)


def sorted_rows(X: np.ndarray) -> np.ndarray:
    return X[np.lexsort(X.T[::-1])]


# --- generators ----------------------------------------------------------------------------------
def test_registry_lists_the_toy_sets():
    assert {"circles", "moons", "xor", "spiral", "blobs"} <= set(GENERATED)


@pytest.mark.parametrize("name", GENERATED)
def test_generator_signature_and_shapes(name):
    params = inspect.signature(datasets.DATASETS[name].make).parameters
    assert list(params)[0] == "n_samples"
    for option in ("noise", "seed", "n_classes"):
        assert params[option].kind is inspect.Parameter.KEYWORD_ONLY
    k = 3 if datasets.DATASETS[name].multiclass else 2
    X, y = make(name, n=101, noise=0.1, k=k)
    assert X.shape == (101, 2) and np.issubdtype(X.dtype, np.floating)
    assert y.shape == (101,) and np.issubdtype(y.dtype, np.integer)
    assert set(np.unique(y)) == set(range(k))
    assert np.isfinite(X).all()


@pytest.mark.parametrize("name", GENERATED)
def test_generator_is_a_function_of_its_seed(name):
    X1, y1 = make(name, noise=0.1, seed=3)
    X2, y2 = make(name, noise=0.1, seed=3)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    X3, _ = make(name, noise=0.1, seed=4)
    assert not np.array_equal(X1, X3)


@pytest.mark.parametrize("n", [400, 401])
def test_circles_two_radii_balanced(n):
    X, y = make("circles", n=n)
    radius = np.linalg.norm(X, axis=1)
    np.testing.assert_allclose(radius[y == 0], 1.0, atol=1e-12)      # outer
    np.testing.assert_allclose(radius[y == 1], 0.8, atol=1e-12)      # inner
    assert abs(np.sum(y == 0) - np.sum(y == 1)) <= n % 2


def test_circles_noise_blurs_the_radii():
    X, y = make("circles", n=1000, noise=0.05)
    radius = np.linalg.norm(X, axis=1)
    assert radius[y == 0].std() > 0.02
    assert abs(radius[y == 0].mean() - 1.0) < 0.02 and abs(radius[y == 1].mean() - 0.8) < 0.02


def test_moons_lie_on_their_half_circles():
    X, y = make("moons", n=401)
    upper, lower = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0, atol=1e-12)
    assert (upper[:, 1] >= -1e-12).all()                                   # upper half of the unit circle
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1.0, atol=1e-12)
    assert (lower[:, 1] <= 0.5 + 1e-12).all()                              # lower half, centre (1, 0.5)
    assert abs(len(upper) - len(lower)) <= 1


def test_xor_label_is_the_sign_of_the_product():
    X, y = make("xor", n=2000)
    assert np.abs(X).max() <= 1
    np.testing.assert_array_equal(y, (np.sign(X[:, 0] * X[:, 1]) > 0).astype(int))
    assert 0.45 < y.mean() < 0.55


def test_xor_noise_jitters_points_but_not_labels():
    X0, y0 = make("xor", n=500, seed=1)
    X1, y1 = make("xor", n=500, noise=0.2, seed=1)
    np.testing.assert_array_equal(y0, y1)
    jitter = X1 - X0
    assert 0.15 < jitter.std() < 0.25


@pytest.mark.parametrize("k", [2, 3, 5])
@pytest.mark.parametrize("noise", [0.0, 0.3])
def test_spiral_arms(k, noise):
    X, y = make("spiral", n=601, noise=noise, k=k)
    counts = np.bincount(y, minlength=k)
    assert len(counts) == k and counts.max() - counts.min() <= 1
    radius = np.linalg.norm(X, axis=1)
    assert radius.min() >= 0 and radius.max() <= 1
    if noise == 0:  # arm j: angle = j·2π/k + 1.75π·r
        angle = np.arctan2(X[:, 0], X[:, 1])
        expected = y * TAU / k + 1.75 * np.pi * radius
        off = np.angle(np.exp(1j * (angle - expected)))
        np.testing.assert_allclose(off, 0, atol=1e-9)


@pytest.mark.parametrize("k", [2, 4])
@pytest.mark.parametrize("noise", [0.0, 0.2])
def test_blobs_k_classes_with_promised_spread(k, noise):
    X, y = make("blobs", n=400 * k, noise=noise, k=k)
    counts = np.bincount(y)
    assert len(counts) == k and counts.max() - counts.min() <= 1
    for c in range(k):
        pts = X[y == c]
        assert np.abs(pts.mean(0)).max() <= 1 + 0.05                      # centres in [-1, 1]^2
        np.testing.assert_allclose(pts.std(0), 0.1 + noise, rtol=0.15)


def test_two_class_sets_refuse_more_classes():
    with pytest.raises(DataError, match="n_classes"):
        datasets.load(RunConfig(dataset="circles", n_classes=3, loss="ce"))


def test_bce_refuses_multiclass_data():
    with pytest.raises(DataError, match="ce"):
        datasets.load(RunConfig(dataset="spiral", n_classes=3, loss="bce"))


# --- split and scaling ---------------------------------------------------------------------------
@pytest.mark.parametrize("test_size", [0.05, 0.2, 0.33, 0.5])
def test_split_honours_test_share_and_partitions_the_data(test_size):
    config = RunConfig(dataset="moons", n_samples=300, noise=0.1, test_size=test_size)
    X, y, *_ = datasets.raw_data(config)
    d = datasets.load(config)
    assert len(d.y_test) == round(300 * test_size)
    assert len(d.y_train) + len(d.y_test) == 300
    both = np.concatenate([d.X_train, d.X_test])
    np.testing.assert_array_equal(sorted_rows(both), sorted_rows(X))
    labelled = np.column_stack([np.concatenate([d.X_train, d.X_test]), np.concatenate([d.y_train, d.y_test])])
    np.testing.assert_array_equal(sorted_rows(labelled), sorted_rows(np.column_stack([X, y])))


def assert_stratified(d: datasets.Dataset, y_all: np.ndarray):
    share = np.bincount(y_all) / len(y_all)
    for part in (d.y_train, d.y_test):
        counts = np.bincount(part, minlength=len(share))
        assert np.all(np.abs(counts - share * len(part)) <= 1), (counts, share * len(part))


def write_csv(path, rows) -> str:
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return str(path)


@pytest.fixture
def skewed_csv(tmp_path) -> str:
    """120 rows, 3 classes of 72 / 36 / 12 rows."""
    rng = np.random.default_rng(0)
    labels = ["a"] * 72 + ["b"] * 36 + ["c"] * 12
    rows = [["f1", "f2", "f3", "label"]] + [[*np.round(rng.normal(size=3), 6), lab] for lab in labels]
    return write_csv(tmp_path / "skewed.csv", rows)


@pytest.mark.parametrize("test_size", [0.2, 0.25, 0.5])
def test_split_is_stratified_on_skewed_classes(skewed_csv, test_size):
    config = RunConfig(dataset="csv", csv_path=skewed_csv, target="label", loss="ce", test_size=test_size)
    _, y, *_ = datasets.raw_data(config)
    d = datasets.load(config)
    assert d.class_names == ("a", "b", "c")
    assert_stratified(d, y)


@pytest.mark.parametrize("k", [3, 4])
def test_split_is_stratified_on_spiral(k):
    config = RunConfig(dataset="spiral", n_classes=k, n_samples=203, loss="ce", test_size=0.3)
    assert_stratified(datasets.load(config), datasets.raw_data(config)[1])


def test_data_seed_changes_the_split_not_the_rows(skewed_csv):
    config = RunConfig(dataset="csv", csv_path=skewed_csv, target="label", loss="ce")
    a, b = datasets.load(config), datasets.load(config.replace(data_seed=7))
    assert not np.array_equal(sorted_rows(a.X_train), sorted_rows(b.X_train))
    np.testing.assert_array_equal(sorted_rows(np.concatenate([a.X_train, a.X_test])),
                                  sorted_rows(np.concatenate([b.X_train, b.X_test])))


def test_data_seed_changes_generated_data_and_same_seed_repeats():
    config = RunConfig(dataset="spiral", n_samples=200, noise=0.1)
    a, again, b = datasets.load(config), datasets.load(config), datasets.load(config.replace(data_seed=1))
    for field in ("X_train", "y_train", "X_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, field), getattr(again, field))
    assert not np.array_equal(a.X_train, b.X_train)


def test_training_seed_does_not_touch_the_data():
    config = RunConfig(dataset="moons", n_samples=200, noise=0.1)
    a, b = datasets.load(config), datasets.load(config.replace(seed=5))
    np.testing.assert_array_equal(a.X_train, b.X_train)


def test_scaler_fitted_on_train_only():
    config = RunConfig(dataset="blobs", n_samples=400, noise=0.3, test_size=0.3)
    plain, scaled = datasets.load(config), datasets.load(config.replace(standardize=True))
    np.testing.assert_array_equal(plain.y_train, scaled.y_train)              # the same split
    np.testing.assert_allclose(scaled.X_train.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(scaled.X_train.std(0), 1, atol=1e-12)
    np.testing.assert_allclose(scaled.mean, plain.X_train.mean(0), atol=1e-15)
    np.testing.assert_allclose(scaled.scale, plain.X_train.std(0), atol=1e-15)
    expected_test = (plain.X_test - plain.X_train.mean(0)) / plain.X_train.std(0)
    np.testing.assert_allclose(scaled.X_test, expected_test, atol=1e-12)
    assert np.abs(scaled.X_test.mean(0)).max() > 1e-6                         # test stats were not used
    np.testing.assert_allclose(scaled.unscale(scaled.X_test), plain.X_test, atol=1e-12)


def test_no_scaling_leaves_rows_alone():
    d = datasets.load(RunConfig(dataset="moons", n_samples=100))
    np.testing.assert_array_equal(d.mean, np.zeros(2))
    np.testing.assert_array_equal(d.scale, np.ones(2))


def test_constant_column_is_not_divided_by_zero(tmp_path):
    rows = [["f1", "const", "y"]] + [[i * 0.5, 3.0, i % 2] for i in range(40)]
    config = RunConfig(dataset="csv", csv_path=write_csv(tmp_path / "c.csv", rows), target="y", standardize=True)
    d = datasets.load(config)
    assert np.isfinite(d.X_train).all() and np.isfinite(d.X_test).all()
    np.testing.assert_array_equal(d.X_train[:, 1], 0.0)


def test_plot_features_override_and_bounds(tmp_path, skewed_csv):
    config = RunConfig(dataset="csv", csv_path=skewed_csv, target="label", loss="ce")
    assert datasets.load(config).default_pair == (0, 1)
    assert datasets.load(config.replace(plot_features=(2, 0))).default_pair == (2, 0)
    with pytest.raises(DataError, match="plot_features"):
        datasets.load(config.replace(plot_features=(0, 3)))


# --- heart failure -------------------------------------------------------------------------------
def read_heart(path) -> tuple[list[str], np.ndarray]:
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], np.array(rows[1:], dtype=np.float64)


def test_heart_failure_from_the_real_file(heart_dir, monkeypatch):
    monkeypatch.setenv("NONLIN_DATA_DIR", str(heart_dir))
    monkeypatch.setattr(urllib.request, "urlopen", fail_if_called)
    header, table = read_heart(heart_dir / datasets.HEART_FILE)
    target = header.index("DEATH_EVENT")
    d = datasets.load(RunConfig(dataset="heart_failure"))
    assert d.n_features == 12
    assert list(d.feature_names) == [h for h in header if h != "DEATH_EVENT"]
    assert "DEATH_EVENT" not in d.feature_names
    assert len(d.y_train) + len(d.y_test) == 299 == len(table)
    assert tuple(d.feature_names[i] for i in d.default_pair) == ("ejection_fraction", "serum_creatinine")
    assert d.class_names == ("survived", "died")
    deaths = int(table[:, target].sum())
    assert int(d.y_train.sum() + d.y_test.sum()) == deaths
    features = np.delete(table, target, axis=1)
    rows = np.column_stack([np.concatenate([d.X_train, d.X_test]), np.concatenate([d.y_train, d.y_test])])
    np.testing.assert_array_equal(sorted_rows(rows), sorted_rows(np.column_stack([features, table[:, target]])))
    assert_stratified(d, table[:, target].astype(int))


def fail_if_called(*args, **kwargs):
    raise AssertionError("no download expected")


def test_heart_failure_wrong_checksum(heart_dir, tmp_path, monkeypatch, caplog):
    original = (heart_dir / datasets.HEART_FILE).read_bytes()
    tampered = original.replace(b"75,0,582", b"76,0,582", 1)
    assert tampered != original
    (tmp_path / datasets.HEART_FILE).write_bytes(tampered)
    monkeypatch.setenv("NONLIN_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(urllib.request, "urlopen", fail_if_called)
    with pytest.raises(ChecksumMismatch, match="sha256") as err:
        datasets.load(RunConfig(dataset="heart_failure"))
    assert hashlib.sha256(tampered).hexdigest()[:12] in str(err.value)
    assert "data folder" in str(err.value) and str(tmp_path) not in str(err.value)   # no server path for users
    assert str(tmp_path / datasets.HEART_FILE) in caplog.text                        # the log names the file
    assert (tmp_path / datasets.HEART_FILE).read_bytes() == tampered            # left for the user to decide


def test_heart_failure_offline_from_the_packaged_copy(tmp_path, monkeypatch):
    monkeypatch.setenv("NONLIN_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(urllib.request, "urlopen", fail_if_called)
    assert datasets.heart_failure_path() == datasets.HEART_PACKAGED
    d = datasets.load(RunConfig(dataset="heart_failure"))
    assert len(d.y_train) + len(d.y_test) == 299 and d.n_features == 12
    assert list(tmp_path.iterdir()) == []                                       # nothing copied or downloaded


def test_packaged_copy_is_the_uci_file_with_its_notice():
    assert hashlib.sha256(datasets.HEART_PACKAGED.read_bytes()).hexdigest() == datasets.HEART_SHA256
    notice = (datasets.HEART_PACKAGED.parent / "README.md").read_text()
    for part in (datasets.HEART_SHA256, "CC BY 4.0", "creativecommons.org/licenses/by/4.0", "No changes",
                 "Chicco", "10.24432/C5Z89R"):
        assert part in notice


def test_heart_failure_broken_install_says_what_to_do(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("NONLIN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(datasets, "HEART_PACKAGED", tmp_path / "pkg" / datasets.HEART_FILE)
    with pytest.raises(DatasetMissing, match="reinstall nonlin") as err:
        datasets.load(RunConfig(dataset="heart_failure"))
    assert str(tmp_path) not in str(err.value) and str(tmp_path / "pkg") in caplog.text
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / datasets.HEART_FILE).write_bytes(b"age,DEATH_EVENT\n1,0\n2,1\n")
    with pytest.raises(ChecksumMismatch, match="shipped with nonlin.*reinstall") as err:
        datasets.load(RunConfig(dataset="heart_failure"))
    assert str(tmp_path) not in str(err.value)
