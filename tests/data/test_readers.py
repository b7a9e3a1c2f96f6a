"""Readers and writers on small files (good and bad input), plus the small real training files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from rankscope.data import readers as r
from rankscope.data.registry import data_root
from rankscope.data.types import Candidates, Hit
from rankscope.errors import InputError


def _data() -> Path:
    try:
        return data_root()
    except InputError:
        return Path("/nonexistent")


DATA = _data()


def write(path: Path, text: str) -> Path:
    """Write `text` to `path`, gzip-compressed when the name ends in .gz."""
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def jsonl(*rows: object) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


def fails(reader, path: Path, line: int | None, needle: str = "") -> InputError:
    """Assert that reading `path` raises InputError naming the file (and line) and containing `needle`."""
    with pytest.raises(InputError) as exc:
        reader(path)
    msg = str(exc.value)
    where = f"{path.name}:{line}:" if line is not None else path.name
    assert where in msg, msg
    assert needle in msg, msg
    return exc.value


# --------------------------------------------------------------------------- TREC qrels and runs


@pytest.mark.parametrize("name", ["qrels.txt", "qrels.txt.gz"])
def test_trec_qrels(tmp_path: Path, name: str) -> None:
    path = write(tmp_path / name, "q1 Q0 d1 2\n\nq1 Q0 d2 0\nq2 0 d1 -1\n")
    assert r.read_trec_qrels(path) == {"q1": {"d1": 2, "d2": 0}, "q2": {"d1": -1}}


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("q1 Q0 d1 1\nq1 d2 1\n", 2, "expected 4 columns"),
        ("q1 Q0 d1 1\nq1 Q0 d2 1 extra\n", 2, "expected 4 columns"),
        ("q1 Q0 d1 1\nq1 Q0 d2 high\n", 2, "not an integer"),
        ("q1 Q0 d1 1\nq1 Q0 d2 1.5\n", 2, "not an integer"),
        ("q1 Q0 d1 1\nq2 Q0 d1 1\nq1 Q0 d1 0\n", 3, "duplicate judgement"),
    ],
)
def test_trec_qrels_bad(tmp_path: Path, text: str, line: int, needle: str) -> None:
    fails(r.read_trec_qrels, write(tmp_path / "qrels.txt", text), line, needle)


def test_qrels_with_a_bad_first_line_blame_it(tmp_path: Path) -> None:
    # 3 columns first would read as BEIR qrels and blame the good line 2
    fails(r.read_qrels, write(tmp_path / "qrels.txt", "q1 d1 1\nq1 Q0 d2 1\n"), 1, "expected 4 columns")
    assert r.read_qrels(write(tmp_path / "beir.tsv", "q1\td1\t1\nq1\td2\t0\n")) == {"q1": {"d1": 1, "d2": 0}}


def test_missing_file_named(tmp_path: Path) -> None:
    for reader in (
        r.read_trec_qrels,
        r.read_trec_run,
        r.read_queries_tsv,
        r.read_candidates,
        r.read_smart_docs,
    ):
        fails(reader, tmp_path / "absent.txt", None, "no such file")


def test_trec_run_read_write(tmp_path: Path) -> None:
    run = {"q2": {"a": 1.0, "b": 3.5, "c": 1.0}, "q1": {"x": -0.1234567890123}}
    path = tmp_path / "run.trec"
    r.write_trec_run(run, path, tag="mine")
    lines = path.read_text().splitlines()
    assert lines[:3] == ["q2 Q0 b 1 3.5 mine", "q2 Q0 c 2 1.0 mine", "q2 Q0 a 3 1.0 mine"]
    assert lines[3] == "q1 Q0 x 1 -0.1234567890123 mine"
    assert r.read_trec_run(path) == run
    r.write_trec_run(run, tmp_path / "run.trec.gz")
    assert r.read_trec_run(tmp_path / "run.trec.gz") == run


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("q1 Q0 d1 1 2.0 t\nq1 Q0 d2 2 1.0\n", 2, "expected 6 columns"),
        ("q1 Q0 d1 1 2.0 t\nq1 Q0 d2 2 high t\n", 2, "not a number"),
        ("q1 Q0 d1 1 2.0 t\nq1 Q0 d2 two 1.0 t\n", 2, "rank"),
        ("q1 Q0 d1 1 2.0 t\nq1 Q0 d1 2 1.0 t\n", 2, "duplicate document"),
    ],
)
def test_trec_run_bad(tmp_path: Path, text: str, line: int, needle: str) -> None:
    fails(r.read_trec_run, write(tmp_path / "run.trec", text), line, needle)


def test_write_trec_run_refuses_whitespace_ids(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="whitespace"):
        r.write_trec_run({"q 1": {"d": 1.0}}, tmp_path / "run.trec")


@pytest.mark.parametrize("run", [{}, {"q1": {}}, {"q1": {}, "q2": {}}])
def test_write_trec_run_refuses_an_empty_run(tmp_path: Path, run: dict) -> None:
    """An empty run was written as an empty file, which read_trec_run (and every evaluator) refuses."""
    with pytest.raises(InputError, match="no scored document"):
        r.write_trec_run(run, tmp_path / "run.trec")
    assert not (tmp_path / "run.trec").exists()


@pytest.mark.parametrize(
    ("hits", "needle"),
    [
        ({"q1": [Hit("a", float("nan"), "t")]}, "NaN"),
        ({"q1": [Hit("d 1", 1.0, "t")]}, "whitespace"),
        ({"q1": [Hit("a", 1.0, " ")]}, "empty passage text"),
        ({"q1": [Hit("a", 1.0, "t"), Hit("a", 0.5, "t")]}, "duplicate document"),
        ({}, "no queries to write"),
    ],
)
def test_write_candidates_writes_only_what_read_candidates_reads(tmp_path: Path, hits, needle) -> None:
    """write_candidates wrote lines read_candidates refuses, in place (an error halfway left half a file)."""
    path = tmp_path / "c.jsonl.gz"
    old = Candidates(queries={"q0": "flea"}, hits={"q0": [Hit("x", 1.0, "text")]})
    r.write_candidates(old, path)
    bad = Candidates(hits={"q9": [Hit("y", 2.0, "ok")], **hits})  # a good line first
    with pytest.raises(InputError, match=needle):
        r.write_candidates(Candidates(hits=hits) if not hits else bad, path)
    assert r.read_candidates(path).hits == old.hits and sorted(p.name for p in tmp_path.iterdir()) == [
        path.name
    ]


@pytest.mark.parametrize("name", ["run.trec", "run.trec.gz"])
def test_a_refused_run_leaves_the_old_file_whole(tmp_path: Path, name: str) -> None:
    """The run is streamed into a temporary copy (not held in memory as text): a line refused after others
    were written (the second query's id) leaves the file written before, and no temporary file."""
    path = tmp_path / name
    r.write_trec_run({"q1": {"a": 1.0}}, path)
    before = path.read_bytes()
    with pytest.raises(InputError, match="whitespace"):
        r.write_trec_run({"q0": {"b": 2.0, "c": 1.0}, "q 2": {"d": 1.0}}, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [name]
    assert r.read_trec_run(path) == {"q1": {"a": 1.0}}


# --------------------------------------------------------------------------- TSV formats


def test_queries_tsv(tmp_path: Path) -> None:
    path = write(tmp_path / "q.tsv", "1\twhat is a flea\n2\t  Androgen receptor define\n")
    assert r.read_queries_tsv(path) == {"1": "what is a flea", "2": "Androgen receptor define"}


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("1\ta\n2 no tab here\n", 2, "expected 2 tab-separated columns"),
        ("1\ta\n2\tb\tc\n", 2, "expected 2 tab-separated columns"),
        ("1\ta\n2\t   \n", 2, "empty query text"),
        ("1\ta\n2\tb\n1\tc\n", 3, "duplicate query id"),
    ],
)
def test_queries_tsv_bad(tmp_path: Path, text: str, line: int, needle: str) -> None:
    fails(r.read_queries_tsv, write(tmp_path / "q.tsv", text), line, needle)


def test_msmarco_collection(tmp_path: Path) -> None:
    docs = r.read_msmarco_collection(write(tmp_path / "c.tsv.gz", "7\tfleas live a year\n8\tgoldfish\n"))
    assert docs["7"].text == "fleas live a year" and list(docs) == ["7", "8"]
    fails(r.read_msmarco_collection, write(tmp_path / "e.tsv", "7\tok\n8\t\n"), 2, "empty passage")
    fails(r.read_msmarco_collection, write(tmp_path / "d.tsv", "7\tok\n7\tagain\n"), 2, "duplicate passage")


def test_msmarco_triples(tmp_path: Path) -> None:
    path = write(tmp_path / "t.tsv", "q\tpos\tneg\nq2\tp2\tn2\n")
    assert r.read_msmarco_triples(path) == [("q", "pos", "neg"), ("q2", "p2", "n2")]
    fails(r.read_msmarco_triples, write(tmp_path / "b.tsv", "q\tpos\tneg\nq\tpos\n"), 2, "3 tab-separated")
    fails(r.read_msmarco_triples, write(tmp_path / "e.tsv", "q\tpos\tneg\nq\t \tneg\n"), 2, "empty passage")


# --------------------------------------------------------------------------- BEIR


def beir_folder(tmp_path: Path, qrels: str = "query-id\tcorpus-id\tscore\n1\td1\t1\n3\td2\t2\n") -> Path:
    folder = tmp_path / "beir"
    (folder / "qrels").mkdir(parents=True)
    corpus = jsonl(
        {"_id": "d1", "title": "Fleas", "text": "fleas live"},
        {"_id": 5, "title": "", "text": "fish"},
        {"_id": "d2", "title": "Only a title", "text": ""},
    )
    write(folder / "corpus.jsonl.gz", corpus)
    write(
        folder / "queries.jsonl",
        jsonl({"_id": "1", "text": "q one"}, {"_id": "2", "text": "q two"}, {"_id": "3", "text": "q three"}),
    )
    write(folder / "qrels" / "test.tsv", qrels)
    return folder


def test_beir(tmp_path: Path) -> None:
    corpus, queries, qrels = r.read_beir(beir_folder(tmp_path), "test")
    assert corpus["d1"].title == "Fleas" and corpus["5"].text == "fish" and corpus["d2"].text == ""
    assert queries == {"1": "q one", "3": "q three"}  # restricted to the judged queries
    assert qrels == {"1": {"d1": 1}, "3": {"d2": 2}}


def test_beir_unknown_query_in_qrels(tmp_path: Path) -> None:
    folder = beir_folder(tmp_path, "query-id\tcorpus-id\tscore\n1\td1\t1\n9\td2\t1\n")
    fails(lambda _: r.read_beir(folder, "test"), folder / "qrels" / "test.tsv", 3, "unknown query '9'")


@pytest.mark.parametrize(
    ("rows", "line", "needle"),
    [
        ('{"_id": "a", "text": "x"}\n{"_id": "b", "text": "y"\n', 2, "bad JSON"),
        ('{"_id": "a", "text": "x"}\n["a", "x"]\n', 2, "expected a JSON object"),
        ('{"_id": "a", "text": "x"}\n{"_id": "a", "text": "y"}\n', 2, "duplicate document id"),
        ('{"_id": "a", "text": "x"}\n{"_id": "b", "title": " ", "text": ""}\n', 2, "empty passage"),
        ('{"_id": "a", "text": "x"}\n{"text": "y"}\n', 2, "missing field '_id'"),
    ],
)
def test_beir_corpus_bad(tmp_path: Path, rows: str, line: int, needle: str) -> None:
    fails(r.read_beir_corpus, write(tmp_path / "corpus.jsonl", rows), line, needle)


def test_beir_queries_and_qrels_bad(tmp_path: Path) -> None:
    bad = write(tmp_path / "queries.jsonl", jsonl({"_id": "1", "text": "a"}, {"_id": "2", "text": ""}))
    fails(r.read_beir_queries, bad, 2, "empty query text")
    dup = write(tmp_path / "dup.jsonl", jsonl({"_id": "1", "text": "a"}, {"_id": "1", "text": "b"}))
    fails(r.read_beir_queries, dup, 2, "duplicate query id")
    qrels = write(tmp_path / "q.tsv", "query-id\tcorpus-id\tscore\n1\td1\t1\n1\td1\t1\n")
    fails(r.read_beir_qrels, qrels, 3, "duplicate judgement")
    fails(r.read_beir_qrels, write(tmp_path / "b.tsv", "1\td1\n"), 1, "expected 3 columns")


def test_read_qrels_sniffs_format(tmp_path: Path) -> None:
    assert r.read_qrels(write(tmp_path / "a.tsv", "query-id\tcorpus-id\tscore\n1\td\t1\n")) == {"1": {"d": 1}}
    assert r.read_qrels(write(tmp_path / "b.tsv", "1\td\t2\n")) == {"1": {"d": 2}}
    assert r.read_qrels(write(tmp_path / "c.txt", "1 Q0 d 3\n")) == {"1": {"d": 3}}


# --------------------------------------------------------------------------- candidates


def test_candidates_sorted_ties_keep_file_order(tmp_path: Path) -> None:
    row = {
        "qid": 7,
        "query": "fleas",
        "hits": [
            {"docid": "a", "rank": 1, "score": 1.0, "content": "A"},
            {"docid": "b", "rank": 2, "score": 2.0},
            {"docid": "c", "rank": 3, "score": 1.0, "content": None},
            {"docid": "d", "rank": 4, "score": 1.0, "content": "D"},
        ],
    }
    cands = r.read_candidates(write(tmp_path / "c.jsonl", jsonl(row, {"qid": "8", "hits": []})))
    assert [h.doc_id for h in cands.hits["7"]] == ["b", "a", "c", "d"]
    assert cands.hits["7"][0] == Hit("b", 2.0, None) and cands.hits["7"][1].text == "A"
    assert cands.queries == {"7": "fleas"} and cands.hits["8"] == []


@pytest.mark.parametrize("name", ["c.jsonl", "c.jsonl.gz"])
def test_candidates_round_trip(tmp_path: Path, name: str) -> None:
    cands = Candidates(
        {
            "q1": [Hit("d1", 3.25, "texte accentué \u2014 “quoted”\ttab"), Hit("d2", 0.1 + 0.2, None)],
            "q2": [Hit("d3", -1e-9, "x")],
        },
        {"q1": "how long do fleas live", "q2": "goldfish"},
    )
    path = tmp_path / name
    r.write_candidates(cands, path)
    assert r.read_candidates(path) == cands
    again = tmp_path / f"again-{name}"
    r.write_candidates(r.read_candidates(path), again)
    unzip = gzip.decompress if name.endswith(".gz") else bytes
    assert unzip(again.read_bytes()) == unzip(path.read_bytes())


@pytest.mark.parametrize(
    ("second", "needle"),
    [
        ('{"qid": "q2", "hits": [{"docid": "d1", "score": 1, "content": ""}]}', "empty passage text"),
        (
            '{"qid": "q2", "hits": [{"docid": "d1", "score": 1}, {"docid": "d1", "score": 0}]}',
            "duplicate document",
        ),
        ('{"qid": "q1", "hits": []}', "duplicate query id"),
        ('{"qid": "q2", "hits": [{"docid": "d1", "score": "high"}]}', "not a number"),
        ('{"qid": "q2", "hits": [{"docid": "d1"}]}', "no 'score'"),
        ('{"qid": "q2", "query": "", "hits": []}', "empty query text"),
        ('{"qid": "q2"}', "'hits' must be a list"),
        ('{"qid": "q2", "hits": [}', "bad JSON"),
        ('{"qid": "q2", "hits": [{"docid": "d 1", "score": 1}]}', "contains whitespace"),
        ('{"qid": "q 2", "hits": []}', "contains whitespace"),
    ],
)
def test_candidates_bad(tmp_path: Path, second: str, needle: str) -> None:
    first = '{"qid": "q1", "query": "x", "hits": [{"docid": "d1", "score": 1.0, "content": "ok"}]}'
    fails(r.read_candidates, write(tmp_path / "cands.jsonl.gz", f"{first}\n{second}\n"), 2, needle)


# --------------------------------------------------------------------------- SMART


SMART_DOCS = """.I 001
.T
fleas and
their hosts .
.A
someone
.W
fleas live up to a year .
.A
stray marker inside the text
.W
  depending on hosts .
.I 2
.T
goldfish
.B
j. fish 1, 1950.
.W
goldfish   grow .
.X
1 5 1
"""


def test_smart_docs(tmp_path: Path) -> None:
    docs = r.read_smart_docs(write(tmp_path / "X.ALL", SMART_DOCS.replace("\n", "\r\n")))
    assert list(docs) == ["1", "2"]
    assert docs["1"].title == "fleas and their hosts ."
    assert docs["1"].text == "fleas live up to a year . stray marker inside the text depending on hosts ."
    assert docs["2"].text == "goldfish grow ."


def test_smart_docs_bad(tmp_path: Path) -> None:
    fails(r.read_smart_docs, write(tmp_path / "a.ALL", "junk\n.I 1\n.W\nx\n"), 1, "before the first")
    fails(
        r.read_smart_docs, write(tmp_path / "b.ALL", ".I 1\n.W\nx\n.I 01\n.W\ny\n"), 4, "duplicate document"
    )
    fails(r.read_smart_docs, write(tmp_path / "c.ALL", ".I 1\n.W\nx\n.I\n.W\ny\n"), 4, "without an id")
    empty = write(tmp_path / "d.ALL", ".I 1\n.W\nx\n.I 2\n.T\n.W\n.I 3\n.W\nz\n")
    fails(r.read_smart_docs, empty, 4, "empty passage text")
    assert list(r.read_smart_docs(empty, skip_empty=True)) == ["1", "3"]


def test_smart_queries_cranfield_renumbering(tmp_path: Path) -> None:
    text = ".I 001\n.W\nfirst ?\n.I 002\n.W\nsecond\n.I 004\n.W\nthird\n"
    assert r.read_smart_queries(write(tmp_path / "cran.qry", text)) == {
        "1": "first ?",
        "2": "second",
        "3": "third",
    }
    assert list(r.read_smart_queries(write(tmp_path / "ADI.QRY", text))) == ["1", "2", "4"]
    assert list(r.read_smart_queries(tmp_path / "ADI.QRY", renumber=True)) == ["1", "2", "3"]
    fails(r.read_smart_queries, write(tmp_path / "E.QRY", ".I 1\n.W\nx\n.I 2\n.W\n"), 4, "empty query text")


def test_smart_qrels(tmp_path: Path) -> None:
    cran = write(tmp_path / "cranqrel", "1 184 2 \n1 29 1\n1 486 -1\n2 12 4\n2 13 3")
    assert r.read_smart_qrels(cran) == {"1": {"184": 3, "29": 4, "486": 0}, "2": {"12": 1, "13": 2}}
    rel = write(tmp_path / "X.REL", "1   17   0   0.000000   \r\n1 46\t0\t0.000000\r\n")
    assert r.read_smart_qrels(rel) == {"1": {"17": 1, "46": 1}}
    fails(r.read_smart_qrels, write(tmp_path / "b1", "1 2 3\n1 3 7\n"), 2, "relevance code")
    fails(r.read_smart_qrels, write(tmp_path / "b2", "1 2 3\n1 3 1 0\n"), 2, "expected 3 columns")
    fails(r.read_smart_qrels, write(tmp_path / "b3", "1 2 0 0.0\n01 2 0 0.0\n"), 2, "duplicate judgement")


# --------------------------------------------------------------------------- TREC SGML


def test_trec_sgml_docs_and_topics(tmp_path: Path) -> None:
    docs = write(
        tmp_path / "d.trec.gz",
        "<DOC>\n<DOCNO>1</DOCNO>\nfleas live\na year\n</DOC>\n"
        "<DOC>\n<DOCNO> 2 </DOCNO>\n<TEXT>\ngoldfish\n</TEXT>\n</DOC>\n",
    )
    got = r.read_trec_sgml_docs(docs)
    assert got["1"].text == "fleas live a year" and got["2"].text == "goldfish"
    topics = write(
        tmp_path / "t.trec",
        "<top>\n<num>1</num><title>\nFLEAS  LIVE\n</title>\n</top>\n"
        "<top>\n<num> Number: 301\n<title> Topic: fish\n<desc> Description:\nmore\n</top>\n",
    )
    assert r.read_trec_topics(topics) == {"1": "FLEAS LIVE", "301": "fish"}


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("<DOC>\n<DOCNO>1</DOCNO>\nx\n</DOC>\n<DOC>\n<DOCNO>1</DOCNO>\ny\n</DOC>\n", 5, "duplicate document"),
        ("<DOC>\n<DOCNO>1</DOCNO>\nx\n</DOC>\n<DOC>\n<DOCNO>2</DOCNO>\n</DOC>\n", 5, "empty passage"),
        ("<DOC>\n<DOCNO>1</DOCNO>\nx\n</DOC>\n<DOC>\ny\n</DOC>\n", 5, "without <DOCNO>"),
        ("<DOC>\n<DOCNO>1</DOCNO>\nx\n</DOC>\nstray\n", 5, "outside"),
        ("<DOC>\n<DOCNO>1</DOCNO>\nx\n", 1, "not closed"),
    ],
)
def test_trec_sgml_docs_bad(tmp_path: Path, text: str, line: int, needle: str) -> None:
    fails(r.read_trec_sgml_docs, write(tmp_path / "d.trec", text), line, needle)


def test_trec_topics_bad(tmp_path: Path) -> None:
    one = "<top>\n<num>1</num><title>a</title>\n</top>\n"
    fails(r.read_trec_topics, write(tmp_path / "a.trec", one * 2), 4, "duplicate query id")
    fails(
        r.read_trec_topics,
        write(tmp_path / "b.trec", one + "<top>\n<num>2</num><title></title>\n</top>\n"),
        4,
        "empty query text",
    )


# --------------------------------------------------------------------------- NQ-open and answers


def test_normalize_and_has_answer() -> None:
    assert r.normalize_answer("The  Beatles!") == "beatles"
    assert r.normalize_answer("An apple, a day") == "apple day"
    assert r.has_answer("In 1901, Wilhelm Conrad Röntgen won.", ["wilhelm conrad röntgen"])
    assert r.has_answer("won twice\u2014in 1956 and 1972", ["1956"])
    assert not r.has_answer("the thebes temple", ["the be"])  # whole tokens only
    assert not r.has_answer("anything", ["the", ""])


def test_read_nq_open_and_answer_qrels(tmp_path: Path) -> None:
    gold = {"title": "Fleas", "text": "Fleas live up to a year.", "isgold": True, "hasanswer": True}
    rows = [
        {"question": "how long do fleas live", "answers": ["a year"], "ctxs": [gold]},
        {
            "question": "flea lifespan",
            "answers": ["one year", "a year"],
            "ctxs": [{"title": "x", "text": "distractor", "isgold": False}, gold],
        },
    ]
    queries, answers, corpus, qrels = r.read_nq_open(write(tmp_path / "nq.jsonl.gz", jsonl(*rows)))
    assert queries == {"1": "how long do fleas live", "2": "flea lifespan"}
    assert list(corpus) == ["p1"] and corpus["p1"].title == "Fleas"
    assert qrels == {"1": {"p1": 1}, "2": {"p1": 1}} and answers["2"] == ["one year", "a year"]
    cands = Candidates({"1": [Hit("p1", 1.0, corpus["p1"].text), Hit("z", 0.5, "cats")], "3": []})
    assert r.answer_qrels(cands, answers) == {"1": {"p1": 1, "z": 0}}
    no_gold = {"question": "q", "answers": ["a"], "ctxs": [{"title": "t", "text": "x", "isgold": False}]}
    fails(r.read_nq_open, write(tmp_path / "bad.jsonl", jsonl(rows[0], no_gold)), 2, "no gold passage")
    fails(
        r.read_nq_open, write(tmp_path / "e.jsonl", jsonl(rows[0], {**rows[0], "question": " "})), 2, "empty"
    )


def test_bge_jsonl(tmp_path: Path) -> None:
    rows = [
        {"query": "q", "pos": ["p"], "neg": ["n1", "n2"], "pos_scores": [1.0]},
        {"query": "q2", "pos": ["p"]},
    ]
    assert r.read_bge_jsonl(write(tmp_path / "b.jsonl", jsonl(*rows))) == [
        ("q", ["p"], ["n1", "n2"]),
        ("q2", ["p"], []),
    ]
    bad = write(tmp_path / "c.jsonl", jsonl(rows[0], {"query": "q", "pos": ["p"], "neg": ["", "x"]}))
    fails(r.read_bge_jsonl, bad, 2, "empty passage")
    fails(
        r.read_bge_jsonl, write(tmp_path / "d.jsonl", jsonl(rows[0], {"query": "q", "pos": []})), 2, "'pos'"
    )


# --------------------------------------------------------------------------- small real files

needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="shared/data not beside the checkout")


@needs_data
def test_real_training_samples() -> None:
    folder = DATA / "msmarco-passage-train-samples"
    triples = r.read_msmarco_triples(folder / "splade_toy_triples.tsv")
    assert len(triples) == 100 and all(all(t) for t in triples)
    bge = r.read_bge_jsonl(folder / "bge_msmarco_hardneg_10q.jsonl")
    assert len(bge) == 10 and all(len(p) == 1 and len(n) == 25 for _, p, n in bge)
    nq = r.read_bge_jsonl(DATA / "nq-open-oracle-lost-in-the-middle" / "bge_nq_hardneg_10q.jsonl.gz")
    assert len(nq) == 10 and all(len(p) == 1 and 1 <= len(n) <= 100 for _, p, n in nq)


@needs_data
def test_real_nq_gold_passages_hold_their_answers() -> None:
    queries, answers, corpus, qrels = r.read_nq_open(
        DATA / "nq-open-oracle-lost-in-the-middle" / "nq-open-oracle.jsonl.gz"
    )
    assert len(queries) == 2655 and len(corpus) < 2655
    cands = Candidates({q: [Hit(d, 1.0, corpus[d].text) for d in qrels[q]] for q in queries})
    judged = r.answer_qrels(cands, answers)
    assert all(v == 1 for docs in judged.values() for v in docs.values())


@needs_data
def test_real_candidates_round_trip(tmp_path: Path) -> None:
    src = DATA / "trec-dl-2019-passage" / "bm25_top100.jsonl.gz"
    cands = r.read_candidates(src)
    assert len(cands.hits) == 43 and all(len(h) == 100 for h in cands.hits.values())
    r.write_candidates(cands, tmp_path / "c.jsonl.gz")
    assert r.read_candidates(tmp_path / "c.jsonl.gz") == cands


def test_an_empty_cranfield_record_names_the_dataset_that_drops_it(tmp_path: Path) -> None:
    records = ".I 470\n.W\nsome text\n.I 471\n.T\n.W\n"
    with pytest.raises(InputError, match="--dataset cranfield drops them"):
        r.read_smart_docs(write(tmp_path / "cran.all.1400", records))
    with pytest.raises(InputError, match="empty passage text for document '471'$"):  # no hint on CISI
        r.read_smart_docs(write(tmp_path / "CISI.ALL", records))
