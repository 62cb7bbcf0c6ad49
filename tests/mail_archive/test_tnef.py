"""mail_archive.tnef against real winmail.dat files (MimeKit's and Apache POI's test sets)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from mail_archive.tnef import unpack_tnef
from tests.conftest import corpora_dir

TNEF_DIR = corpora_dir() / "tnef"

pytestmark = pytest.mark.skipif(not TNEF_DIR.is_dir(), reason=f"no corpus at {TNEF_DIR}")

# MimeKit's *.list files name what its test must find among the parts it extracts: attachments
# by file name, plus "body.rtf" / "body.html" for the message body. Its test checks that each
# listed name is found (not that nothing else is): long-filename.list and
# missing-filenames.list list only the body, though those files carry attachments.
BODY_ENTRIES = {"body.rtf", "body.html", "body.txt"}


def _files() -> list[Path]:
    if not TNEF_DIR.is_dir():
        return []
    return sorted(p for p in TNEF_DIR.rglob("*") if p.is_file() and p.suffix != ".list")


def _listed() -> list[Path]:
    return [p for p in _files() if p.with_suffix(".list").is_file()]


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(TNEF_DIR)) for p in paths]


@pytest.mark.parametrize("path", _listed(), ids=_ids(_listed()))
def test_listed_names(path: Path) -> None:
    lines = [line.strip() for line in path.with_suffix(".list").read_text().splitlines()]
    expected = [line for line in lines if line and line not in BODY_ENTRIES]
    contents = unpack_tnef(path.read_bytes())
    assert contents.error is None
    names = Counter(attachment.name for attachment in contents.attachments)
    missing = set(expected) - set(names)
    assert not missing, f"not found: {missing}; got {sorted(names)}"
    if "body.html" in lines:
        assert contents.body_html
    if "body.rtf" in lines:
        assert contents.body_rtf_compressed


@pytest.mark.parametrize("path", _files(), ids=_ids(_files()))
def test_every_file_unpacks_without_raising(path: Path) -> None:
    contents = unpack_tnef(path.read_bytes())
    if contents.error is None:
        for attachment in contents.attachments:
            assert attachment.name
            assert isinstance(attachment.data, bytes)
    else:
        assert contents.attachments == []


def _read(name: str) -> bytes:
    path = TNEF_DIR / name
    if not path.is_file():
        pytest.skip(f"{name} not in corpus")
    return path.read_bytes()


def test_exact_names_and_sizes() -> None:
    contents = unpack_tnef(_read("mimekit/missing-filenames.tnef"))
    assert [(a.name, len(a.data)) for a in contents.attachments] == [
        ("generpts.src", 61210),
        ("TechlibDEC99.doc", 33792),
        ("TechlibDEC99-JAN00.doc", 34304),
        ("TechlibNOV99.doc", 33792),
    ]
    contents = unpack_tnef(_read("mimekit/long-filename.tnef"))
    assert [a.name for a in contents.attachments] == ["allproductsmar2000.dat"]


def test_long_filename_preferred_over_8_3_name() -> None:
    contents = unpack_tnef(_read("apache-poi/bug52400-winmail-with-attachments.dat"))
    assert [a.name for a in contents.attachments] == [
        "scion_tc_2007_maintenanceguide.pdf",
        "Duke_Wave.png",
    ]
    assert contents.attachments[0].data.startswith(b"%PDF")
    assert contents.body_text and contents.body_text.startswith("This is the body.")
    assert contents.body_html and "<html" in contents.body_html.lower()


def test_attachment_data_keeps_trailing_zero_bytes() -> None:
    # tnefparse strips trailing NULs from MAPI binary values; a Word file is whole 512-byte
    # sectors, so the exact length shows that the data came back untruncated.
    contents = unpack_tnef(_read("mimekit/MAPI_ATTACH_DATA_OBJ.tnef"))
    doc = contents.attachments[0]
    assert doc.name == "VIA_Nytt_1402.doc"
    assert doc.data.startswith(bytes.fromhex("d0cf11e0a1b11ae1"))
    assert len(doc.data) % 512 == 0


def test_ole_object_without_interface_id() -> None:
    contents = unpack_tnef(_read("mimekit/MAPI_OBJECT.tnef"))
    assert contents.attachments[0].data.startswith(bytes.fromhex("d0cf11e0a1b11ae1"))


def test_attached_messages() -> None:
    contents = unpack_tnef(_read("mimekit/christmas.tnef"))
    embedded = [a.embedded for a in contents.attachments if a.embedded is not None]
    assert len(embedded) == 2
    inner_names = [a.name for e in embedded for a in e.attachments]
    assert inner_names == ["kitten-playing-with-a-christmas-tree.jpg"]


def test_unicode_body() -> None:
    contents = unpack_tnef(_read("mimekit/unicode-mapi-attr.tnef"))
    assert contents.body_text is not None and "hello world" in contents.body_text
    assert [a.name for a in contents.attachments] == ["example.dat"]


def test_hostile_counts_are_refused_quickly() -> None:
    # 53 bytes asking for ~200 million property values: tnefparse alone runs out of memory
    contents = unpack_tnef(_read("apache-poi/oom.tnef"))
    assert contents.error is not None
    assert contents.attachments == []


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x78",
        b"garbage" * 100,
        b"\x78\x9f\x3e\x22",  # the signature and nothing else
        b"\x78\x9f\x3e\x22\x01\x00" + b"\xff" * 64,
        bytes(range(256)) * 8,
    ],
)
def test_garbage(data: bytes) -> None:
    contents = unpack_tnef(data)
    assert contents.attachments == []
    if not data.startswith(b"\x78\x9f\x3e\x22\x01\x00"):
        assert contents.error


def test_truncated_files_never_raise() -> None:
    data = _read("mimekit/two-files.tnef")
    for cut in range(0, len(data), 7):
        unpack_tnef(data[:cut])
    corrupted = bytearray(data)
    for position in range(6, len(data), 13):
        corrupted[position] ^= 0xFF
        unpack_tnef(bytes(corrupted))
