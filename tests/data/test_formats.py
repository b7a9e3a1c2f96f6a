"""Formats told by content, not by file name (or given explicitly)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rankscope.data import formats as f
from rankscope.data import registry
from rankscope.errors import InputError

SMART_QUERIES = ".I 1\n.W\nwhat is\n information science?\n.I 2\n.W\nhow are books indexed\n"
SMART_DOCS = ".I 1\n.T\nA title\n.W\nsome text\n.I 2\n.W\nmore text\n"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_smart_queries_with_an_unusual_name(tmp_path: Path) -> None:
    """The reported case: SMART queries in `query.text` were read as TSV and refused."""
    path = write(tmp_path / "query.text", SMART_QUERIES)
    assert f.sniff_queries_format(path) == "smart"
    expected = {"1": "what is information science?", "2": "how are books indexed"}
    assert f.read_queries_file(path) == expected
    assert registry.read_queries_file(path) == expected  # still importable from the registry
    assert registry.load_files(queries=path).queries == expected


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        (json.dumps({"_id": "1", "text": "what is information science?"}) + "\n", "beir"),
        ("<top>\n<num> Number: 1\n<title> what is information science?\n</top>\n", "trec-topics"),
        ("1\twhat is information science?\n", "tsv"),
        ("\n\n" + SMART_QUERIES.split(".I 2")[0], "smart"),
    ],
)
def test_queries_by_content(tmp_path: Path, text: str, fmt: str) -> None:
    path = write(tmp_path / "queries.dat", text)
    assert f.sniff_queries_format(path) == fmt
    assert f.read_queries_file(path) == {"1": "what is information science?"}


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        (json.dumps({"_id": "1", "title": "A title", "text": "some text"}) + "\n", "beir"),
        ("<DOC>\n<DOCNO>1</DOCNO>\nsome text\n</DOC>\n", "trec-sgml"),
        ("1\tsome text\n", "tsv"),
        (SMART_DOCS, "smart"),
    ],
)
def test_corpus_by_content(tmp_path: Path, text: str, fmt: str) -> None:
    path = write(tmp_path / "collection.bin", text)
    assert f.sniff_corpus_format(path) == fmt
    assert f.read_corpus_file(path)["1"].text == "some text"


@pytest.mark.parametrize(
    ("name", "text", "fmt", "expected"),
    [
        ("rels.dat", "1 0 d1 2\n", "trec", {"1": {"d1": 2}}),
        ("rels.dat", "query-id\tcorpus-id\tscore\n1\td1\t1\n", "beir", {"1": {"d1": 1}}),
        ("rels.dat", "1\td1\t1\n", "beir", {"1": {"d1": 1}}),
        ("rels.dat", " 1     28 0 0.000000\n", "smart", {"1": {"28": 1}}),
        ("cranqrel.txt", "1 184 2\n1 486 -1\n", "cranfield", {"1": {"184": 3, "486": 0}}),
    ],
)
def test_qrels_by_content(tmp_path: Path, name: str, text: str, fmt: str, expected: dict) -> None:
    path = write(tmp_path / name, text)
    assert f.sniff_qrels_format(path) == fmt
    assert f.read_qrels_file(path) == expected


def test_undecidable_content_names_the_formats_tried(tmp_path: Path) -> None:
    path = write(tmp_path / "mystery.dat", "\nwhat is information science\n")
    with pytest.raises(InputError) as exc:
        f.read_queries_file(path)
    msg = str(exc.value)
    assert "mystery.dat:2:" in msg and "cannot tell the queries format" in msg
    assert all(k in msg for k in ("BEIR", "TREC topics", "SMART", "TSV"))
    with pytest.raises(InputError, match=r"mystery.dat:2: cannot tell the corpus format: tried BEIR.*SGML"):
        f.read_corpus_file(path)
    with pytest.raises(InputError, match=r"mystery.dat:2: cannot tell the qrels format \(5 columns\).*TREC"):
        f.read_qrels_file(write(tmp_path / "mystery.dat", "\na b c d e\n"))
    with pytest.raises(
        InputError, match=r"cannot tell the qrels format \(2 columns\): tried TREC.*Cranfield"
    ):
        f.read_qrels_file(write(tmp_path / "mystery.dat", "a b\n"))


def test_name_decides_when_content_cannot(tmp_path: Path) -> None:
    """A .tsv whose first line has no tab goes to the TSV reader, which names the bad line."""
    path = write(tmp_path / "queries.tsv", "1 no tab here\n")
    with pytest.raises(InputError, match=r"queries.tsv:1: expected 2 tab-separated columns"):
        f.read_queries_file(path)


def test_explicit_format(tmp_path: Path) -> None:
    path = write(tmp_path / "q.jsonl", SMART_QUERIES)
    assert f.read_queries_file(path, format="smart")["2"] == "how are books indexed"
    with pytest.raises(InputError, match="bad JSON"):
        f.read_queries_file(path, format="beir")
    with pytest.raises(InputError, match="unknown queries format 'xml'"):
        f.read_queries_file(path, format="xml")  # type: ignore[arg-type]
    rel = write(tmp_path / "x.txt", "1 184 2\n")
    assert f.read_qrels_file(rel) == {"1": {"184": 2}}  # 3 columns: BEIR unless named cranqrel
    assert f.read_qrels_file(rel, format="cranfield") == {"1": {"184": 3}}


def test_empty_and_missing(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"e.tsv: empty file"):
        f.read_queries_file(write(tmp_path / "e.tsv", "\n  \n"))
    with pytest.raises(InputError, match="absent.tsv: no such file"):
        f.read_corpus_file(tmp_path / "absent.tsv")
