"""User CSV uploads: the header's column names, and content-addressed storage of the bytes."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from .datasets import _decode, csv_caps, sha256_bytes
from .errors import EmptyData, TooLarge, UnreadableFile


def csv_columns(data: bytes, *, name: str = "CSV") -> list[str]:
    """Column names in the header row (same delimiter rule as datasets.read_table)."""
    if len(data) > csv_caps()["mb"] * 1024 * 1024:
        raise TooLarge(f"{name}: {len(data) / 1e6:.1f} MB is over the {csv_caps()['mb']} MB cap")
    if not data.strip():
        raise EmptyData(f"{name}: the file is empty")
    if b"\x00" in data[:65536] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UnreadableFile(f"{name}: this is a binary file, not a CSV (save the sheet as CSV, UTF-8)")
    first = _decode(data, name).lstrip("\ufeff").split("\n", 1)[0].rstrip("\r")
    sep = "," if "," in first else ";" if ";" in first else "\t" if "\t" in first else ","
    try:
        header = [h.strip() for h in next(csv.reader(io.StringIO(first), delimiter=sep), [])]
    except csv.Error as exc:
        raise UnreadableFile(f"{name}: not a readable CSV ({exc})") from None
    if not any(header):
        raise EmptyData(f"{name}: the first line holds no column names")
    return header


def save_upload(data: bytes, folder: str | Path) -> tuple[Path, str]:
    """Write the bytes to folder/<sha256>.csv once; (path, sha256)."""
    digest = sha256_bytes(data)
    path = Path(folder) / f"{digest}.csv"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path, digest


def is_upload(path: str | Path, sha256: str, folder: str | Path) -> bool:
    """True when path is folder/<sha256>.csv, as save_upload writes it: links may only name uploads."""
    try:
        p = Path(path).resolve()
    except (OSError, ValueError):
        return False
    return bool(sha256) and p.parent == Path(folder).resolve() and p.name == f"{sha256}.csv"
