"""Bad CSV input: each problem raises its own DataError subclass naming the column or cap; fuzzing finds no crash."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from nonlin_core.datasets import read_table
from nonlin_core.errors import (
    DataError,
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

GOOD = "x1,x2,label\n0.5,1.0,0\n1.5,-2.0,1\n2.5,3.0,0\n-0.5,4.0,1\n"


def rows_csv(n: int, sep: str = ",") -> str:
    """n rows of two numeric features and a 0/1 target."""
    lines = [sep.join(["x1", "x2", "label"])]
    lines += [sep.join([f"{i * 0.5}", f"{-i}", str(i % 2)]) for i in range(n)]
    return "\n".join(lines) + "\n"


def assert_valid(result) -> None:
    """What a successful read promises: finite X (n, d), y in 0..k-1 with every class at least twice."""
    X, y, features, classes = result
    n, d = X.shape
    k = len(classes)
    assert X.dtype == np.float64 and np.isfinite(X).all()
    assert d == len(features) >= 1
    assert y.dtype == np.int64 and y.shape == (n,)
    assert k >= 2 and n >= 2 * k
    assert set(np.unique(y)) == set(range(k)) and np.bincount(y).min() >= 2
    assert len(set(features)) == d and len(set(classes)) == k


# ---- each bad case, its own error ----------------------------------------------------------
@pytest.mark.parametrize("data", [b"", b"   \n\n", b"\xef\xbb\xbf"], ids=["no-bytes", "blank", "bom-only"])
def test_empty_file(data):
    with pytest.raises(EmptyData, match="empty"):
        read_table(data, "label")


def test_header_only():
    with pytest.raises(EmptyData, match="no data rows"):
        read_table(b"x1,x2,label\n", "label")


def test_no_feature_columns():
    with pytest.raises(EmptyData, match="no feature columns.*'label'"):
        read_table(b"label\n0\n1\n0\n1\n", "label")


@pytest.mark.parametrize("data", [
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
    b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00" + b"\x00" * 64,   # an .xlsx is a zip
], ids=["png", "xlsx"])
def test_binary_file(data):
    with pytest.raises(UnreadableFile, match="binary"):
        read_table(data, "label")


def test_wrong_encoding_names_the_byte():
    latin1 = "température,label\n36.6,0\n37.2,1\n38.0,0\n36.9,1\n".encode("latin-1")
    with pytest.raises(UnreadableFile, match=r"not UTF-8.*0xe9.*CSV UTF-8"):
        read_table(latin1, "label")


def test_broken_quoting():
    with pytest.raises(UnreadableFile, match="not a readable CSV"):
        read_table(b'x1,x2,label\n"0.5,1.0,0\n1.5,2.0,1\n', "label")


def test_rows_longer_than_header():
    with pytest.raises(UnreadableFile, match="more fields than the header"):
        read_table(b"x1,label\n1,0,5\n2,0\n3,1\n4,1\n", "label")


# each case: the bytes, the error class, what its message must name
CASES = {
    "target-missing-names-target-and-columns": (GOOD.encode(), TargetMissing, r"'DEATH_EVENT'.*x1, x2, label", "DEATH_EVENT"),
    "non-numeric-feature-names-the-column": (b"x1,colour,label\n1,red,0\n2,blue,1\n3,red,0\n4,blue,1\n", NonNumericFeature,
                                             r"'colour'.*'red'", "label"),
    "one-text-cell-in-a-numeric-column": (b"x1,x2,label\n1,2,0\n2,3,1\n3,n/a?,0\n4,5,1\n", NonNumericFeature,
                                          r"'x2'.*'n/a\?'", "label"),
    "boolean-feature-is-not-numeric": (b"x1,flag,label\n1,True,0\n2,False,1\n3,True,0\n4,False,1\n", NonNumericFeature,
                                       "'flag'", "label"),
    "missing-values-name-the-columns": (b"x1,x2,label\n1,,0\n2,NaN,1\n,3,0\n4,5,1\n", MissingValues,
                                        r"x1 \(1 rows\), x2 \(2 rows\)", "label"),
    "all-nan-column": (b"x1,x2,label\n1,nan,0\n2,nan,1\n3,nan,0\n4,nan,1\n", MissingValues, r"x2 \(4 rows\)", "label"),
    "missing-target-value": (b"x1,label\n1,0\n2,1\n3,\n4,1\n5,0\n", MissingValues, r"label \(1 rows\)", "label"),
    "infinite-values-name-the-column": (b"x1,x2,label\n1,2,0\n2,inf,1\n3,1e999,0\n4,5,1\n", MissingValues,
                                        "infinite values in x2", "label"),
    "single-class": (b"x1,label\n1,yes\n2,yes\n3,yes\n", SingleClass, r"'label'.*one class only \('yes'\)", "label"),
    "too-few-per-class-names-the-class": (b"x1,label\n1,a\n2,a\n3,b\n4,b\n5,c\n", TooFewPerClass,
                                          r"class 'c' of 'label' has only 1 row", "label"),
    "duplicate-headers-named": (b"x1,x2,x1,label\n1,2,3,0\n4,5,6,1\n", DuplicateColumns, "'x1'", "label"),
    "duplicate-headers-after-trimming-spaces": (b"x1, x1 ,label\n1,2,0\n4,5,1\n", DuplicateColumns, "'x1'", "label"),
    # pandas would silently rename the second 'a' to 'a.1'
    "duplicate-headers-one-quoted": (b'a, "a",label\n1,2,0\n1,2,0\n3,4,1\n1,2,1\n', DuplicateColumns, "'a'", "label"),
}


@pytest.mark.parametrize(("data", "error", "pattern", "target"), CASES.values(), ids=CASES.keys())
def test_bad_content_names_the_problem(data, error, pattern, target):
    with pytest.raises(error, match=pattern):
        read_table(data, target)


def test_duplicate_headers_hidden_by_a_quoted_newline():
    """Found by the fuzzer: a header cell with a newline in quotes dodged the duplicate check and crashed."""
    data = b'"x\n",x,y\n1,2,0\n3,4,1\n1,2,0\n3,4,1\n'
    with pytest.raises(DuplicateColumns, match="'x'"):
        read_table(data, "y")


# ---- caps (env, read at call time) ---------------------------------------------------------
def test_row_cap(monkeypatch):
    monkeypatch.setenv("NONLIN_MAX_CSV_ROWS", "5")
    with pytest.raises(TooLarge, match="more than 5 rows"):
        read_table(rows_csv(6).encode(), "label")
    assert read_table(rows_csv(5).encode(), "label")[0].shape == (5, 2)


def test_column_cap(monkeypatch):
    monkeypatch.setenv("NONLIN_MAX_CSV_COLS", "3")
    header = ",".join(f"x{i}" for i in range(4)) + ",label\n"
    with pytest.raises(TooLarge, match="5 columns is over the 3-column cap"):
        read_table((header + "1,2,3,4,0\n" * 4).encode(), "label")


def test_size_cap(monkeypatch):
    monkeypatch.setenv("NONLIN_MAX_CSV_MB", "1")
    data = rows_csv(80_000).encode()
    assert len(data) > 1024 * 1024
    with pytest.raises(TooLarge, match="over the 1 MB cap"):
        read_table(data, "label")


def test_class_cap(monkeypatch):
    monkeypatch.setenv("NONLIN_MAX_CLASSES", "3")
    data = "x1,label\n" + "".join(f"{i},{i % 4}\n" for i in range(8))
    with pytest.raises(TooLarge, match="4 classes, over the cap of 3"):
        read_table(data.encode(), "label")


def test_continuous_target_hits_class_cap():
    data = "x1,price\n" + "".join(f"{i},{i * 1.37:.2f}\n" for i in range(40))
    with pytest.raises(TooLarge, match="'price' has 40 classes.*continuous"):
        read_table(data.encode(), "price")


# ---- variants that must work ---------------------------------------------------------------
def test_good_file():
    X, y, features, classes = read_table(GOOD.encode(), "label")
    assert features == ["x1", "x2"] and classes == ["0", "1"]
    np.testing.assert_array_equal(X[:, 0], [0.5, 1.5, 2.5, -0.5])
    np.testing.assert_array_equal(y, [0, 1, 0, 1])


@pytest.mark.parametrize("sep", [";", "\t"], ids=["semicolon", "tab"])
def test_other_separators(sep):
    X, y, features, _ = read_table(rows_csv(6, sep).encode(), "label")
    assert features == ["x1", "x2"] and X.shape == (6, 2)
    np.testing.assert_array_equal(y, [0, 1, 0, 1, 0, 1])


def test_semicolon_with_decimal_points():
    X, _, features, _ = read_table(b"a;b;label\n1.5;2;0\n2.5;3;1\n3.5;4;0\n4.5;5;1\n", "label")
    assert features == ["a", "b"] and X[0, 0] == 1.5


def test_utf8_bom():
    X, _, features, _ = read_table(b"\xef\xbb\xbf" + GOOD.encode(), "label")
    assert features == ["x1", "x2"] and X.shape == (4, 2)


def test_utf16_with_bom():
    X, _, features, _ = read_table(GOOD.encode("utf-16"), "label")
    assert features == ["x1", "x2"] and X.shape == (4, 2)


def test_windows_line_endings_and_padded_cells():
    X, y, features, _ = read_table(b"x1 , x2 ,label\r\n 1, 2,0\r\n3, 4,1\r\n5,6,0\r\n7,8,1\r\n", "label")
    assert features == ["x1", "x2"] and X[1].tolist() == [3.0, 4.0]


def test_old_mac_line_endings():
    X, y, features, _ = read_table(b"x1,label\r1,0\r2,1\r3,0\r4,1\r", "label")
    assert features == ["x1"] and X[:, 0].tolist() == [1, 2, 3, 4]


def test_string_labels():
    data = b"x1,x2,outcome\n1,2,survived\n2,3,died\n3,4,survived\n4,5,died\n5,6,survived\n"
    X, y, _, classes = read_table(data, "outcome")
    assert classes == ["died", "survived"]                 # sorted
    np.testing.assert_array_equal(y, [1, 0, 1, 0, 1])


def test_numbers_in_quotes_are_numbers():
    X, _, _, _ = read_table(b'x1,label\n"1.5",0\n"2",1\n"3",0\n"4",1\n', "label")
    np.testing.assert_array_equal(X[:, 0], [1.5, 2, 3, 4])


# ---- fuzz: any input gives a valid dataset or a DataError, nothing else --------------------
def read_or_data_error(data: bytes, target: str) -> None:
    try:
        result = read_table(data, target)
    except DataError:
        return
    assert_valid(result)


FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=2048))
@example(b"\xff\xfe\x00")                                 # UTF-16 BOM, odd length
@example(b"y\n\x00\n")
@example(b"\r\r\r")
def test_fuzz_arbitrary_bytes(data):
    read_or_data_error(data, "y")


NUMBER = st.one_of(st.integers(-10**6, 10**6).map(str), st.floats(allow_nan=False, allow_infinity=False).map(repr))
ODD_CELL = st.one_of(
    st.sampled_from(["", " ", "NaN", "nan", "inf", "-inf", "NA", "True", "1e400", "0x1F", "1,5", '"', '""', "'", "é",
                     "99999999999999999999999", "\\", "#", "y", "1;2", "\t", '"a\nb"', "\r"]),
    st.text(max_size=6),
)
ODD_LABEL = st.sampled_from(["2", "a", "b", "", "NaN", "1.0", " 1", '"0"', "True", "é"])
ODD_NAME = st.sampled_from(["y", "x0", " x0", "x0 ", '"x0"', '"x0\n"', '"y\r\n"', "", "x0.1", "Unnamed: 0", "#", "é"])


@st.composite
def mangled_csv(draw) -> bytes:
    """A valid table (features x0.., target 'y' in any column) with 0-4 kinds of damage done to it."""
    sep = draw(st.sampled_from([",", ";", "\t"]))
    header = [f"x{i}" for i in range(draw(st.integers(1, 3)))]
    header.insert(draw(st.integers(0, len(header))), "y")
    t = header.index("y")
    rows = draw(st.lists(st.lists(NUMBER, min_size=len(header), max_size=len(header)), min_size=4, max_size=12))
    for i, row in enumerate(rows):
        row[t] = str(i % 2)
    newline, encoding, byte_edits = "\n", "utf-8", 0
    for damage in draw(st.lists(st.sampled_from(["cell", "label", "name", "row", "sep", "text", "bytes"]), max_size=4)):
        i, j = draw(st.integers(0, len(rows) - 1)), draw(st.integers(0, len(header) - 1))
        if damage == "cell" and j < len(rows[i]):
            rows[i][j] = draw(ODD_CELL)
        elif damage == "label" and t < len(rows[i]):
            rows[i][t] = draw(ODD_LABEL)
        elif damage == "name":
            header[j] = draw(ODD_NAME)
        elif damage == "row":                                 # ragged, missing or doubled row
            rows[i] = draw(st.sampled_from([rows[i][:-1], rows[i] + ["1"], []]))
        elif damage == "sep":
            sep = draw(st.sampled_from([",", ";", "\t", "|", " "]))
        elif damage == "text":
            newline = draw(st.sampled_from(["\r\n", "\r"]))
            encoding = draw(st.sampled_from(["utf-8-sig", "utf-16", "latin-1"]))
        else:
            byte_edits += 1
    text = newline.join(sep.join(r) for r in [header, *rows]) + draw(st.sampled_from(["", newline]))
    data = bytearray(text.encode(encoding, errors="replace"))
    for _ in range(byte_edits):
        i = draw(st.integers(0, len(data) - 1))
        byte = draw(st.sampled_from(list(b',;\t\n\r"\x00\xff') + [draw(st.integers(0, 255))]))
        op = draw(st.sampled_from(["drop", "insert", "replace"]))
        if op == "drop":
            del data[i]
        elif op == "insert":
            data.insert(i, byte)
        else:
            data[i] = byte
    return bytes(data)


@FUZZ
@given(mangled_csv())
@example(b'"x\n",x,y\n1,2,0\n3,4,1\n1,2,0\n3,4,1\n')
def test_fuzz_mangled_csv(data):
    read_or_data_error(data, "y")


@FUZZ
@given(st.lists(st.tuples(st.floats(allow_nan=False, allow_infinity=False, width=32), st.sampled_from("ab")),
                min_size=4, max_size=30))
def test_fuzz_clean_tables_round_trip(rows):
    """Finite numbers survive the text round trip exactly and labels map to sorted class indices."""
    text = "f,y\n" + "".join(f"{v!r},{lab}\n" for v, lab in rows)
    labels = [lab for _, lab in rows]
    try:
        X, y, _, classes = read_table(text.encode(), "y")
    except (SingleClass, TooFewPerClass):
        assert min(labels.count("a"), labels.count("b")) < 2
        return
    np.testing.assert_array_equal(X[:, 0], [v for v, _ in rows])
    assert [classes[i] for i in y] == labels
