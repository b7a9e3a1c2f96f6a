"""Fuzzing every reader with hypothesis: random and mutated input raises nothing but InputError naming the
file (and the line, except for a missing or empty file); empty files are refused; CRLF and a UTF-8 BOM
read as plain LF input does.

Examples per test: $RANKSCOPE_FUZZ_EXAMPLES (default `EXAMPLES`); derandomized, so the normal suite is
reproducible. The totals tried are printed in pytest's terminal summary (tests/data/conftest.py).
"""

from __future__ import annotations

import gzip
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rankscope.data import formats
from rankscope.data import readers as r
from rankscope.data.rlhn import read_rlhn
from rankscope.errors import InputError

pytestmark = pytest.mark.fuzz

EXAMPLES = int(os.environ.get("RANKSCOPE_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TRIED: dict[str, int] = {}
"""test id -> examples run (reported by conftest.py)."""


@dataclass(frozen=True)
class Reader:
    name: str
    read: Callable[[Path], object]
    filename: str
    valid: str
    """A small valid input: the seed that mutations start from."""


def _jl(*rows: object) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


HIT = {"docid": "d1", "rank": 1, "score": 2.5, "content": "fleas live a year"}
READERS = [
    Reader("trec_run", r.read_trec_run, "run.trec", "q1 Q0 d1 1 2.5 t\nq1 Q0 d2 2 1.0 t\nq2 Q0 d1 1 0 t\n"),
    Reader("trec_qrels", r.read_trec_qrels, "qrels.txt", "q1 0 d1 1\nq1 0 d2 0\nq2 Q0 d1 2\n"),
    Reader("qrels_sniffed", r.read_qrels, "qrels.txt", "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t0\n"),
    Reader(
        "qrels_file", formats.read_qrels_file, "rels.dat", "1 28 0 0.000000\n1 35 0 0.000000\n2 7 0 0.0\n"
    ),
    Reader(
        "beir_queries",
        r.read_beir_queries,
        "queries.jsonl",
        _jl({"_id": "1", "text": "a b"}, {"_id": 2, "text": "c"}),
    ),
    Reader(
        "beir_corpus",
        r.read_beir_corpus,
        "corpus.jsonl",
        _jl({"_id": "d1", "title": "T", "text": "x y"}, {"_id": "d2", "title": "", "text": "z"}),
    ),
    Reader("beir_qrels", r.read_beir_qrels, "test.tsv", "query-id\tcorpus-id\tscore\n1\td1\t1\n2\td2\t2\n"),
    Reader("candidates", r.read_candidates, "c.jsonl", _jl({"qid": "q1", "query": "fleas", "hits": [HIT]})),
    Reader(
        "candidates_gz",
        r.read_candidates,
        "c.jsonl.gz",
        _jl({"qid": "q1", "hits": [HIT, {**HIT, "docid": "d2", "score": 1}]}, {"qid": "q2", "hits": []}),
    ),
    Reader("queries_tsv", r.read_queries_tsv, "queries.tsv", "1\tfleas\n2\tgoldfish tanks\n"),
    Reader("msmarco_corpus", r.read_msmarco_collection, "collection.tsv", "0\tfleas live\n1\tfish grow\n"),
    Reader("msmarco_triples", r.read_msmarco_triples, "triples.tsv", "q\tpos text\tneg text\nq2\tp\tn\n"),
    Reader("smart_docs", r.read_smart_docs, "X.ALL", ".I 1\n.T\nTitle\n.W\ntext one\n.I 2\n.W\ntext two\n"),
    Reader("smart_queries", r.read_smart_queries, "X.QRY", ".I 1\n.W\nwhat is it\n.I 2\n.W\nwhy\n"),
    Reader("smart_qrels", r.read_smart_qrels, "X.REL", "1 17 0 0.000000\n1 46 0 0.000000\n"),
    Reader("cranqrel", r.read_smart_qrels, "cranqrel", "1 184 2\n1 29 -1\n2 12 4\n"),
    Reader(
        "trec_sgml_docs",
        r.read_trec_sgml_docs,
        "docs.trec",
        "<DOC>\n<DOCNO>1</DOCNO>\n<TEXT>\nsome text\n</TEXT>\n</DOC>\n"
        "<DOC>\n<DOCNO> 2 </DOCNO>\nmore\n</DOC>\n",
    ),
    Reader(
        "trec_topics",
        r.read_trec_topics,
        "topics.trec",
        "<top>\n<num> Number: 301\n<title> Topic: fleas\n<desc> x\n</top>\n"
        "<top><num>2</num><title>a b</title></top>\n",
    ),
    Reader("bge_jsonl", r.read_bge_jsonl, "b.jsonl", _jl({"query": "q", "pos": ["p"], "neg": ["n1", "n2"]})),
    Reader(
        "nq_open",
        r.read_nq_open,
        "nq.jsonl",
        _jl({"question": "q", "answers": ["a"], "ctxs": [{"title": "t", "text": "a b", "isgold": True}]}),
    ),
    Reader(
        "rlhn",
        read_rlhn,
        "rlhn.jsonl",
        _jl({"query_id": "x", "query": "q", "pos": ["p"], "neg": ["n1", "n2"], "llm_flagged_neg": [1]}),
    ),
    Reader("queries_file", formats.read_queries_file, "query.text", ".I 1\n.W\nwhat\n.I 2\n.W\nwhy\n"),
    Reader("corpus_file", formats.read_corpus_file, "corpus.dat", "<DOC>\n<DOCNO>1</DOCNO>\nx\n</DOC>\n"),
]
IDS = [rd.name for rd in READERS]


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="rankscope-fuzz-") as d:
        yield Path(d)


def _write(path: Path, data: bytes) -> Path:
    if path.name.endswith(".gz"):
        with gzip.GzipFile(path, "wb", mtime=0) as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return path


def _count(request: pytest.FixtureRequest) -> None:
    TRIED[request.node.nodeid] = TRIED.get(request.node.nodeid, 0) + 1


def check_only_input_errors(reader: Reader, path: Path) -> None:
    """Reading `path` either succeeds or raises InputError naming the file and (for content) the line."""
    try:
        reader.read(path)
    except InputError as e:
        assert e.path == str(path), str(e)
        if e.line is None:
            assert str(e).startswith(f"{path}: empty file"), str(e)
        else:
            assert e.line >= 1 and str(e).startswith(f"{path}:{e.line}: "), str(e)


# Mutations: what damaged files look like (truncation, a lost or doubled line, a stray character).
MUTATION = st.one_of(
    st.tuples(st.just("cut"), st.integers(0, 10_000)),
    st.tuples(st.just("drop_line"), st.integers(0, 100)),
    st.tuples(st.just("dup_line"), st.integers(0, 100)),
    st.tuples(st.just("swap_lines"), st.integers(0, 100)),
    st.tuples(st.just("insert"), st.integers(0, 10_000), st.text(min_size=1, max_size=8)),
    st.tuples(st.just("delete"), st.integers(0, 10_000), st.integers(1, 6)),
    st.tuples(
        st.just("replace"),
        st.integers(0, 10_000),
        st.sampled_from(list('\t \n\r"{}[]<>.:,0-9eIW\x00\ufeff²')),
    ),
)


def mutate(text: str, ops: list[tuple]) -> str:
    for op in ops:
        kind, at = op[0], op[1]
        lines = text.split("\n")
        if kind == "cut":
            text = text[: at % (len(text) + 1)]
        elif kind == "drop_line":
            del lines[at % len(lines)]
            text = "\n".join(lines)
        elif kind == "dup_line":
            i = at % len(lines)
            lines.insert(i, lines[i])
            text = "\n".join(lines)
        elif kind == "swap_lines":
            i = at % len(lines)
            lines[0], lines[i] = lines[i], lines[0]
            text = "\n".join(lines)
        elif kind == "insert":
            i = at % (len(text) + 1)
            text = text[:i] + op[2] + text[i:]
        elif kind == "delete":
            i = at % (len(text) + 1)
            text = text[:i] + text[i + op[2] :]
        elif kind == "replace" and text:
            i = at % len(text)
            text = text[:i] + op[2] + text[i + 1 :]
    return text


@pytest.mark.parametrize("reader", READERS, ids=IDS)
def test_random_text(reader: Reader, folder: Path, request: pytest.FixtureRequest) -> None:
    @FUZZ
    @given(st.text(max_size=300))
    def run(text: str) -> None:
        _count(request)
        check_only_input_errors(
            reader, _write(folder / reader.filename, text.encode("utf-8", "surrogatepass"))
        )

    run()


@pytest.mark.parametrize("reader", READERS, ids=IDS)
def test_random_bytes(reader: Reader, folder: Path, request: pytest.FixtureRequest) -> None:
    @FUZZ
    @given(st.binary(max_size=300))
    def run(data: bytes) -> None:
        _count(request)
        check_only_input_errors(reader, _write(folder / reader.filename, data))

    run()


@pytest.mark.parametrize("reader", READERS, ids=IDS)
def test_mutated_valid_input(reader: Reader, folder: Path, request: pytest.FixtureRequest) -> None:
    @FUZZ
    @given(st.lists(MUTATION, min_size=1, max_size=4))
    def run(ops: list[tuple]) -> None:
        _count(request)
        text = mutate(reader.valid, ops)
        check_only_input_errors(
            reader, _write(folder / reader.filename, text.encode("utf-8", "surrogatepass"))
        )

    run()


@FUZZ
@given(st.binary(max_size=200), st.integers(0, 60))
def test_damaged_gzip(data: bytes, cut: int) -> None:
    """Not gzip at all, and a valid gzip stream cut short, both behind a .gz name."""
    TRIED["test_damaged_gzip"] = TRIED.get("test_damaged_gzip", 0) + 1
    reader = READERS[IDS.index("candidates_gz")]
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "c.jsonl.gz"
        path.write_bytes(data)
        check_only_input_errors(reader, path)
        packed = gzip.compress(reader.valid.encode(), mtime=0)
        path.write_bytes(packed[: max(1, len(packed) - cut)])
        check_only_input_errors(reader, path)


@pytest.mark.parametrize("reader", READERS, ids=IDS)
@pytest.mark.parametrize("content", [b"", b"\n\n  \n"], ids=["empty", "blank"])
def test_empty_file_refused(reader: Reader, content: bytes, folder: Path) -> None:
    path = _write(folder / reader.filename, content)
    with pytest.raises(InputError) as exc:
        reader.read(path)
    assert str(exc.value).startswith(f"{path}: empty file"), str(exc.value)


@pytest.mark.parametrize("reader", READERS, ids=IDS)
def test_valid_seed_reads(reader: Reader, folder: Path) -> None:
    assert reader.read(_write(folder / reader.filename, reader.valid.encode()))


@pytest.mark.parametrize("reader", READERS, ids=IDS)
@pytest.mark.parametrize("variant", ["crlf", "bom", "crlf+bom"])
def test_crlf_and_bom_accepted(reader: Reader, variant: str, folder: Path) -> None:
    expected = reader.read(_write(folder / reader.filename, reader.valid.encode()))
    text = reader.valid.replace("\n", "\r\n") if "crlf" in variant else reader.valid
    data = ("\ufeff" if "bom" in variant else "") + text
    assert reader.read(_write(folder / reader.filename, data.encode())) == expected


def test_empty_run_no_longer_evaluates_to_zero(tmp_path: Path) -> None:
    """The reported case: an empty run file used to evaluate quietly to 0."""
    path = tmp_path / "run.trec"
    path.write_text("")
    with pytest.raises(InputError, match=r"run.trec: empty file: no run lines"):
        r.read_trec_run(path)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (
            "candidates",
            '{"qid": "q", "hits": [{"docid": "d", "score": 1%s}]}\n' % ("0" * 400),
        ),  # float overflow
        ("candidates", "[" * 100_000 + "\n"),  # JSON nested too deep
        ("candidates", '{"qid": "q", "hits": [{"docid": "d", "score": %s}]}\n' % ("9" * 5000)),  # int limit
        ("smart_docs", ".I \u00b2\n.W\ntext\n"),  # "²".isdigit() but int() refuses it
        ("smart_qrels", "\u00b2 1 0 0.000000\n"),
        ("trec_run", "q Q0 d 1 nan t\n"),
        ("candidates_gz", "not gzip"),
    ],
)
def test_known_edge_cases(name: str, text: str, folder: Path) -> None:
    """Inputs that once raised something other than InputError (or that the fuzzers should keep trying)."""
    reader = READERS[IDS.index(name)]
    path = folder / reader.filename
    if name == "candidates_gz":
        path.write_text(text)
    else:
        _write(path, text.encode())
    check_only_input_errors(reader, path)
