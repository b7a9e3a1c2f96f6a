"""Readers and writers for the IR file formats rankscope uses.

Every reader raises `InputError` naming the file and the 1-based line on a malformed line, a duplicate id,
an empty query or passage text, or a missing file. Any path ending in ``.gz`` is read and written through
gzip. This module holds the TREC, MS MARCO, BEIR and candidate-list formats and re-exports the classic
(SMART, TREC SGML) and question-answering readers, so every reader can be imported from here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from rankscope.data._io import (
    check_qrels_queries,
    iter_json,
    iter_lines,
    iter_records,
    json_id,
    json_text,
    open_write,
    parse_float,
    parse_int,
    require_records,
)
from rankscope.data.classic import (
    CRANFIELD_GRADES,
    read_smart_docs,
    read_smart_qrels,
    read_smart_queries,
    read_trec_docs,
    read_trec_sgml_docs,
    read_trec_topics,
)
from rankscope.data.nq import answer_qrels, has_answer, normalize_answer, read_bge_jsonl, read_nq_open
from rankscope.data.types import Candidates, Document, Hit, Qrels
from rankscope.errors import InputError
from rankscope.io import atomic_file

__all__ = [
    "CRANFIELD_GRADES",
    "answer_qrels",
    "has_answer",
    "normalize_answer",
    "read_beir",
    "read_beir_corpus",
    "read_beir_qrels",
    "read_beir_queries",
    "read_bge_jsonl",
    "read_candidates",
    "read_msmarco_collection",
    "read_msmarco_triples",
    "read_nq_open",
    "read_qrels",
    "read_queries_tsv",
    "read_smart_docs",
    "read_smart_qrels",
    "read_smart_queries",
    "read_trec_docs",
    "read_trec_sgml_docs",
    "read_trec_qrels",
    "read_trec_run",
    "read_trec_topics",
    "write_candidates",
    "write_trec_run",
]

Run = dict[str, dict[str, float]]
"""query id -> document id -> retrieval score."""


# --------------------------------------------------------------------------- TREC qrels and runs


def read_trec_qrels(path: str | Path) -> Qrels:
    """Read TREC qrels: 4 whitespace columns ``qid iter docid rel`` (iter, usually Q0 or 0, is ignored)."""
    qrels: Qrels = {}
    for lineno, parts in iter_records(path):
        if len(parts) != 4:
            raise InputError(f"expected 4 columns 'qid Q0 docid rel', found {len(parts)}", path, lineno)
        qid, _, docid, rel = parts
        grade = parse_int(rel, "relevance", path, lineno)
        judged = qrels.setdefault(qid, {})
        if docid in judged:
            raise InputError(f"duplicate judgement for query {qid!r}, document {docid!r}", path, lineno)
        judged[docid] = grade
    return require_records(qrels, path, "judgements")


def read_trec_run(path: str | Path) -> Run:
    """Read a TREC run: 6 whitespace columns ``qid Q0 docid rank score tag``."""
    run: Run = {}
    for lineno, parts in iter_records(path):
        if len(parts) != 6:
            raise InputError(
                f"expected 6 columns 'qid Q0 docid rank score tag', found {len(parts)}", path, lineno
            )
        qid, _, docid, rank, score, _tag = parts
        parse_int(rank, "rank", path, lineno)
        value = parse_float(score, "score", path, lineno)
        hits = run.setdefault(qid, {})
        if docid in hits:
            raise InputError(f"duplicate document {docid!r} for query {qid!r}", path, lineno)
        hits[docid] = value
    return require_records(run, path, "run lines")


def _check_token(value: str, what: str, path: str | Path) -> None:
    if not value or any(c.isspace() for c in value):
        raise InputError(f"{what} {value!r} is empty or contains whitespace; TREC files cannot hold it", path)


def write_trec_run(run: Run, path: str | Path, tag: str = "rankscope") -> None:
    """Write a TREC run, each query's documents by score descending (ties: doc id descending, as trec_eval
    orders them), ranks from 1. Queries keep the order of `run`."""
    _check_token(tag, "run tag", path)
    if not any(run.values()):
        # the file would be empty (or hold no line), which read_trec_run and every evaluator refuse
        raise InputError("the run holds no scored document; a TREC run file needs at least one line", path)
    # streamed into a temporary copy that replaces `path` only when every line was fine (ids, NaN scores):
    # a refused run leaves no file (or the old one), and the run's text is never held in memory
    with atomic_file(path) as tmp, open_write(tmp, as_name=path) as f:
        write_trec_rows(f, run, tag, path)


def refuse_nan(scores: Mapping[str, float], qid: str | None = None) -> None:
    """InputError naming the document (and the query `qid`) of a NaN score: it has no place in a ranking,
    where sorting would have put it anywhere and every measure would read on."""
    for doc, score in scores.items():
        if math.isnan(score):
            where = f"query {qid!r}, " if qid is not None else ""
            msg = f"{where}document {doc!r}: its score is NaN, which ranks nowhere (a model whose numbers "
            raise InputError(msg + "overflowed gives these: score in float32, --dtype float32)")


def trec_order(scores: Mapping[str, float], qid: str | None = None) -> list[tuple[str, float]]:
    """A query's (doc id, score) best first, ties by doc id descending: trec_eval's order, which run files,
    every measure and rank fusion use. A NaN score is refused (`refuse_nan`)."""
    refuse_nan(scores, qid)
    return sorted(scores.items(), key=lambda kv: (float(kv[1]), kv[0]), reverse=True)


def write_trec_rows(f: IO[str], run: Run, tag: str, path: str | Path) -> None:
    """The lines `write_trec_run` writes for `run`, into an open file (a run written query by query)."""
    for qid, hits in run.items():
        _check_token(qid, "query id", path)
        for rank, (docid, score) in enumerate(trec_order(hits, qid), 1):
            _check_token(docid, "document id", path)
            f.write(f"{qid} Q0 {docid} {rank} {float(score)!r} {tag}\n")


# --------------------------------------------------------------------------- MS MARCO / TREC DL TSV


def _tsv(path: str | Path, ncols: int, layout: str):
    for lineno, line in iter_lines(path):
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) != ncols:
            raise InputError(
                f"expected {ncols} tab-separated columns '{layout}', found {len(cols)}", path, lineno
            )
        yield lineno, cols


def read_queries_tsv(path: str | Path) -> dict[str, str]:
    """Read ``qid<TAB>text`` queries (MS MARCO, TREC DL, Anserini topics). Text is stripped."""
    queries: dict[str, str] = {}
    for lineno, (qid, text) in _tsv(path, 2, "qid<TAB>text"):
        qid = qid.strip()
        if not qid:
            raise InputError("empty query id", path, lineno)
        if not text.strip():
            raise InputError(f"empty query text for query {qid!r}", path, lineno)
        if qid in queries:
            raise InputError(f"duplicate query id {qid!r}", path, lineno)
        queries[qid] = text.strip()
    return require_records(queries, path, "queries")


def read_msmarco_collection(path: str | Path) -> dict[str, Document]:
    """Read an MS MARCO style collection, ``pid<TAB>text``."""
    docs: dict[str, Document] = {}
    for lineno, (pid, text) in _tsv(path, 2, "pid<TAB>text"):
        pid = pid.strip()
        if not pid:
            raise InputError("empty passage id", path, lineno)
        if not text.strip():
            raise InputError(f"empty passage text for passage {pid!r}", path, lineno)
        if pid in docs:
            raise InputError(f"duplicate passage id {pid!r}", path, lineno)
        docs[pid] = Document(pid, text.strip())
    return require_records(docs, path, "passages")


def read_msmarco_triples(path: str | Path) -> list[tuple[str, str, str]]:
    """Read MS MARCO training triples, ``query<TAB>positive passage<TAB>negative passage``."""
    triples: list[tuple[str, str, str]] = []
    for lineno, cols in _tsv(path, 3, "query<TAB>positive<TAB>negative"):
        query, pos, neg = (c.strip() for c in cols)
        if not query:
            raise InputError("empty query text", path, lineno)
        if not pos or not neg:
            raise InputError("empty passage text", path, lineno)
        triples.append((query, pos, neg))
    return require_records(triples, path, "triples")


# --------------------------------------------------------------------------- BEIR


def read_beir_corpus(path: str | Path) -> dict[str, Document]:
    """Read a BEIR corpus.jsonl(.gz): ``{"_id", "title", "text"}`` per line.

    A document with an empty text but a title is kept (some BEIR corpora have such records); one with
    neither is an error."""
    docs: dict[str, Document] = {}
    for lineno, obj in iter_json(path):
        doc_id = json_id(obj, "_id", path, lineno)
        text = json_text(obj, "text", path, lineno, what="text", required=False) or ""
        title = json_text(obj, "title", path, lineno, what="title", required=False) or ""
        if not text.strip() and not title.strip():
            raise InputError(f"empty passage text for document {doc_id!r}", path, lineno)
        if doc_id in docs:
            raise InputError(f"duplicate document id {doc_id!r}", path, lineno)
        docs[doc_id] = Document(doc_id, text.strip(), title.strip())
    return require_records(docs, path, "documents")


def read_beir_queries(path: str | Path) -> dict[str, str]:
    """Read BEIR queries.jsonl(.gz): ``{"_id", "text"}`` per line."""
    queries: dict[str, str] = {}
    for lineno, obj in iter_json(path):
        qid = json_id(obj, "_id", path, lineno)
        text = json_text(obj, "text", path, lineno, what=f"query text for query {qid!r}")
        if qid in queries:
            raise InputError(f"duplicate query id {qid!r}", path, lineno)
        queries[qid] = str(text).strip()
    return require_records(queries, path, "queries")


def read_beir_qrels(path: str | Path) -> Qrels:
    """Read BEIR qrels TSV: an optional header ``query-id corpus-id score``, then 3 columns per line."""
    qrels: Qrels = {}
    for lineno, parts in iter_records(path):
        if lineno == 1 and parts[0].lower() == "query-id":
            continue
        if len(parts) != 3:
            raise InputError(
                f"expected 3 columns 'query-id corpus-id score', found {len(parts)}", path, lineno
            )
        qid, docid, score = parts
        grade = parse_int(score, "relevance", path, lineno)
        judged = qrels.setdefault(qid, {})
        if docid in judged:
            raise InputError(f"duplicate judgement for query {qid!r}, document {docid!r}", path, lineno)
        judged[docid] = grade
    return require_records(qrels, path, "judgements")


def read_qrels(path: str | Path) -> Qrels:
    """Read TREC (4 columns) or BEIR (header ``query-id ...`` or 3 columns) qrels, told apart by the
    first non-blank line."""
    records = iter_records(path)
    first, second = next(records, None), next(records, None)
    records.close()
    if first is not None and first[1][0].lower() == "query-id":
        return read_beir_qrels(path)
    if first is not None and len(first[1]) == 3:
        if second is not None and len(second[1]) == 4:  # TREC qrels whose first line is the bad one
            msg = f"expected 4 columns 'qid iter docid rel' as the next line has, found {len(first[1])}"
            raise InputError(msg, path, first[0])
        return read_beir_qrels(path)
    return read_trec_qrels(path)


def _beir_file(folder: Path, stem: str) -> Path:
    for name in (f"{stem}.jsonl", f"{stem}.jsonl.gz"):
        if (folder / name).is_file():
            return folder / name
    raise InputError(f"no {stem}.jsonl or {stem}.jsonl.gz in the BEIR folder", folder)


def read_beir(folder: str | Path, split: str) -> tuple[dict[str, Document], dict[str, str], Qrels]:
    """Read a BEIR dataset folder: (corpus, queries, qrels) for `split` (qrels/{split}.tsv).

    As BEIR's own loader does, queries are restricted to those judged in the split."""
    root = Path(folder)
    if not root.is_dir():
        raise InputError("no such folder", root)
    corpus = read_beir_corpus(_beir_file(root, "corpus"))
    queries = read_beir_queries(_beir_file(root, "queries"))
    qrels_path = root / "qrels" / f"{split}.tsv"
    qrels = read_beir_qrels(qrels_path)
    check_qrels_queries(qrels, queries, qrels_path)
    return corpus, {q: t for q, t in queries.items() if q in qrels}, qrels


# --------------------------------------------------------------------------- candidate lists


def read_candidates(path: str | Path) -> Candidates:
    """Read candidate lists, one JSON object per line: ``{"qid", "query", "hits": [{"docid", "rank",
    "score", "content"}]}``.

    Hits are sorted by score descending, ties keeping file order. ``content`` may be absent or null
    (the hit then has no text) but not empty; ``query`` may be absent; ``rank`` is ignored."""
    cands = Candidates()
    for qid, query, hits in iter_candidates(path):
        if query is not None:
            cands.queries[qid] = query
        cands.hits[qid] = hits
    return cands


def iter_candidates(path: str | Path) -> Iterator[tuple[str, str | None, list[Hit]]]:
    """(query id, query text or None, hits sorted by score) for each line of a candidates file, one
    query at a time (as `read_candidates` checks them: a duplicate query id is refused)."""
    seen_queries: set[str] = set()
    for lineno, obj in iter_json(path):
        qid, query, hits = candidate_line(obj, path, lineno)
        if qid in seen_queries:
            raise InputError(f"duplicate query id {qid!r}", path, lineno)
        seen_queries.add(qid)
        yield qid, query, hits
    require_records(seen_queries, path, "queries")


def candidate_line(obj: dict[str, Any], path: str | Path, lineno: int) -> tuple[str, str | None, list[Hit]]:
    """One line of a candidates file, checked: (query id, query text or None, hits sorted by score)."""
    qid = json_id(obj, "qid", path, lineno)
    query = json_text(obj, "query", path, lineno, what="query text", required=False)
    if query is not None and not query.strip():
        raise InputError(f"empty query text for query {qid!r}", path, lineno)
    raw_hits = obj.get("hits")
    if not isinstance(raw_hits, list):
        raise InputError("field 'hits' must be a list", path, lineno)
    hits: list[Hit] = []
    seen: set[str] = set()
    for i, h in enumerate(raw_hits, 1):
        if not isinstance(h, dict):
            raise InputError(f"hit {i} of query {qid!r} is not a JSON object", path, lineno)
        docid = json_id(h, "docid", path, lineno)
        if docid in seen:
            raise InputError(f"duplicate document {docid!r} for query {qid!r}", path, lineno)
        seen.add(docid)
        if "score" not in h:
            raise InputError(f"hit {docid!r} of query {qid!r} has no 'score'", path, lineno)
        score = parse_float(h["score"], f"score of hit {docid!r}", path, lineno)
        text = json_text(h, "content", path, lineno, what="content", required=False)
        if text is not None and not text.strip():
            raise InputError(f"empty passage text for document {docid!r} of query {qid!r}", path, lineno)
        hits.append(Hit(docid, score, text))
    hits.sort(key=lambda hit: -hit.score)
    return qid, query, hits


def write_candidates(cands: Candidates, path: str | Path) -> None:
    """Write candidates in the format `read_candidates` reads (gzip when the name ends in .gz).

    One line per query of ``cands.hits``, in its order; ranks are list positions from 1. Reading the file
    back gives equal candidates when each list is sorted by score, as `read_candidates` returns them. Each
    line is checked as `read_candidates` checks it (a NaN score, an empty text, ... are refused) and the
    file is written whole or not at all (`atomic_file`)."""
    if not cands.hits:
        raise InputError("no queries to write: a candidates file holds at least one", path)
    with atomic_file(path) as tmp, open_write(tmp, as_name=path) as f:
        for lineno, (qid, hits) in enumerate(cands.hits.items(), 1):
            obj: dict[str, object] = {"qid": qid}
            if qid in cands.queries:
                obj["query"] = cands.queries[qid]
            rows = []
            for rank, hit in enumerate(hits, 1):
                row: dict[str, object] = {"docid": hit.doc_id, "rank": rank, "score": float(hit.score)}
                if hit.text is not None:
                    row["content"] = hit.text
                rows.append(row)
            obj["hits"] = rows
            candidate_line(obj, path, lineno)  # what read_candidates would refuse is not written
            f.write(json.dumps(obj, ensure_ascii=False) + "\n")
