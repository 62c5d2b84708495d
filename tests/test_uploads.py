"""CSV upload helpers: header columns, content-addressed saving, documented errors."""
from __future__ import annotations

import pytest

from nonlin_core.datasets import sha256_bytes
from nonlin_core.errors import EmptyData, UnreadableFile
from nonlin_core.uploads import csv_columns, save_upload


@pytest.mark.parametrize("text, sep", [("a,b,label\n1,2,x\n", ","), ("a;b;label\n1;2;x\n", ";"),
                                       ("a\tb\tlabel\n1\t2\tx\n", "\t")])
def test_columns_any_delimiter(text, sep):
    assert csv_columns(text.encode()) == ["a", "b", "label"]


def test_columns_bom_and_spaces():
    assert csv_columns("\ufeff a , b ,y\r\n1,2,3\r\n".encode()) == ["a", "b", "y"]


@pytest.mark.parametrize("data, error", [(b"", EmptyData), (b"\x00\x01\x02binary", UnreadableFile),
                                         (b"\xff\xfe\xfa\xd8broken", UnreadableFile)])
def test_bad_files(data, error):
    with pytest.raises(error):
        csv_columns(data)


def test_save_upload_is_content_addressed(tmp_path):
    data = b"a,b,y\n1,2,0\n"
    path, digest = save_upload(data, tmp_path / "uploads")
    assert digest == sha256_bytes(data) and path.name == f"{digest}.csv" and path.read_bytes() == data
    again, _ = save_upload(data, tmp_path / "uploads")
    assert again == path and len(list((tmp_path / "uploads").iterdir())) == 1


def test_is_upload_accepts_only_content_addressed_files_in_the_folder(tmp_path):
    from nonlin_core.uploads import is_upload, save_upload
    path, digest = save_upload(b"a,y\n1,0\n2,1\n", tmp_path / "uploads")
    assert is_upload(path, digest, tmp_path / "uploads")
    assert not is_upload(path, "0" * 64, tmp_path / "uploads")                       # wrong hash
    assert not is_upload("/etc/passwd", digest, tmp_path / "uploads")                 # outside the folder
    assert not is_upload(tmp_path / "uploads" / ".." / path.name, digest, tmp_path / "uploads")
