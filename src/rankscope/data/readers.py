"""Readers and writers for IR formats. Every bad line raises InputError naming the file and line."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from rankscope.data.types import Candidates, Document, Hit, Qrels
from rankscope.errors import InputError, require_file


def open_text(path: str | Path, mode: str = "rt") -> IO[str]:
    """Open a text file, gzip-compressed when the name ends in .gz."""
    p = Path(path)
    if "r" in mode:
        require_file(p)
    if p.suffix == ".gz":
        return gzip.open(p, mode, encoding="utf-8")  # type: ignore[return-value]
    return open(p, mode, encoding="utf-8")


def lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """(1-based line number, line without newline) for non-blank lines."""
    with open_text(path) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n\r")
            if line.strip():
                yield n, line


def _int(value: str, path: str | Path, n: int, what: str) -> int:
    try:
        return int(float(value)) if "." in value else int(value)
    except ValueError:
        raise InputError(f"{what} must be an integer, got '{value}'", path, n) from None


def read_trec_qrels(path: str | Path) -> Qrels:
    """TREC qrels: `qid iteration docid relevance` per line."""
    qrels: Qrels = {}
    for n, line in lines(path):
        cols = line.split()
        if len(cols) != 4:
            raise InputError(f"expected 4 columns 'qid Q0 docid rel', got {len(cols)}", path, n)
        qid, _, did, rel = cols
        docs = qrels.setdefault(qid, {})
        if did in docs:
            raise InputError(f"duplicate judgement for query '{qid}', document '{did}'", path, n)
        docs[did] = _int(rel, path, n, "relevance")
    return qrels


def read_beir_qrels(path: str | Path) -> Qrels:
    """BEIR qrels: a `query-id corpus-id score` header, then tab-separated rows."""
    qrels: Qrels = {}
    for n, line in lines(path):
        cols = line.split("\t") if "\t" in line else line.split()
        if n == 1 and cols[0] == "query-id":
            continue
        if len(cols) != 3:
            raise InputError(f"expected 3 columns 'query-id corpus-id score', got {len(cols)}", path, n)
        docs = qrels.setdefault(cols[0], {})
        if cols[1] in docs:
            raise InputError(f"duplicate judgement for query '{cols[0]}', document '{cols[1]}'", path, n)
        docs[cols[1]] = _int(cols[2], path, n, "score")
    return qrels


def read_qrels(path: str | Path) -> Qrels:
    """TREC or BEIR qrels, told apart by the first line."""
    first = next(lines(path), (0, ""))[1]
    if first.startswith("query-id") or len(first.split()) == 3:
        return read_beir_qrels(path)
    return read_trec_qrels(path)


def read_trec_run(path: str | Path) -> dict[str, dict[str, float]]:
    """TREC run: `qid Q0 docid rank score tag` per line."""
    run: dict[str, dict[str, float]] = {}
    for n, line in lines(path):
        cols = line.split()
        if len(cols) != 6:
            raise InputError(f"expected 6 columns 'qid Q0 docid rank score tag', got {len(cols)}", path, n)
        docs = run.setdefault(cols[0], {})
        if cols[2] in docs:
            raise InputError(f"document '{cols[2]}' appears twice for query '{cols[0]}'", path, n)
        try:
            docs[cols[2]] = float(cols[4])
        except ValueError:
            raise InputError(f"score must be a number, got '{cols[4]}'", path, n) from None
    return run


def write_trec_run(run: dict[str, dict[str, float]], path: str | Path, tag: str = "rankscope") -> None:
    """Write a run, best first per query, ranks from 1."""
    with open_text(path, "wt") as f:
        for qid in sorted(run):
            ranked = sorted(run[qid].items(), key=lambda kv: (-kv[1], kv[0]))
            for rank, (did, score) in enumerate(ranked, 1):
                f.write(f"{qid} Q0 {did} {rank} {score:.6f} {tag}\n")


def read_queries_tsv(path: str | Path) -> dict[str, str]:
    """`qid<TAB>text` per line (MS MARCO, TREC DL)."""
    queries: dict[str, str] = {}
    for n, line in lines(path):
        cols = line.split("\t")
        if len(cols) != 2:
            raise InputError(f"expected 2 tab-separated columns 'qid text', got {len(cols)}", path, n)
        qid, text = cols[0].strip(), cols[1].strip()
        if not text:
            raise InputError(f"query '{qid}' has empty text", path, n)
        if qid in queries:
            raise InputError(f"duplicate query id '{qid}'", path, n)
        queries[qid] = text
    return queries


def read_msmarco_collection(path: str | Path) -> dict[str, Document]:
    """MS MARCO collection: `pid<TAB>passage` per line."""
    corpus: dict[str, Document] = {}
    for n, line in lines(path):
        cols = line.split("\t")
        if len(cols) != 2:
            raise InputError(f"expected 2 tab-separated columns 'pid text', got {len(cols)}", path, n)
        pid, text = cols[0].strip(), cols[1].strip()
        if not text:
            raise InputError(f"passage '{pid}' is empty", path, n)
        if pid in corpus:
            raise InputError(f"duplicate passage id '{pid}'", path, n)
        corpus[pid] = Document(pid, text)
    return corpus


def read_msmarco_triples(path: str | Path) -> list[tuple[str, str, str]]:
    """MS MARCO training triples as text: `query<TAB>positive<TAB>negative`."""
    out = []
    for n, line in lines(path):
        cols = line.split("\t")
        if len(cols) != 3 or not all(c.strip() for c in cols):
            raise InputError("expected 3 non-empty tab-separated columns 'query positive negative'", path, n)
        out.append((cols[0].strip(), cols[1].strip(), cols[2].strip()))
    return out


def _json(line: str, path: str | Path, n: int) -> dict[str, Any]:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise InputError(f"invalid JSON ({e.msg})", path, n) from None
    if not isinstance(obj, dict):
        raise InputError("expected a JSON object", path, n)
    return obj


def _field(obj: dict[str, Any], key: str, path: str | Path, n: int) -> Any:
    if key not in obj:
        raise InputError(f"missing field '{key}'", path, n)
    return obj[key]


def read_beir_corpus(path: str | Path) -> dict[str, Document]:
    """BEIR corpus.jsonl[.gz]: `{"_id", "title", "text"}` per line."""
    corpus: dict[str, Document] = {}
    for n, line in lines(path):
        obj = _json(line, path, n)
        did = str(_field(obj, "_id", path, n))
        text = str(obj.get("text") or "").strip()
        title = str(obj.get("title") or "").strip()
        if not text and not title:
            raise InputError(f"document '{did}' is empty", path, n)
        if did in corpus:
            raise InputError(f"duplicate document id '{did}'", path, n)
        corpus[did] = Document(did, text or title, title if text else "")
    return corpus


def read_beir_queries(path: str | Path) -> dict[str, str]:
    """BEIR queries.jsonl: `{"_id", "text"}` per line."""
    queries: dict[str, str] = {}
    for n, line in lines(path):
        obj = _json(line, path, n)
        qid, text = str(_field(obj, "_id", path, n)), str(obj.get("text") or "").strip()
        if not text:
            raise InputError(f"query '{qid}' has empty text", path, n)
        if qid in queries:
            raise InputError(f"duplicate query id '{qid}'", path, n)
        queries[qid] = text
    return queries


def read_candidates(path: str | Path) -> Candidates:
    """Candidates jsonl[.gz]: `{"qid", "query", "hits": [{"docid", "score", "content"?}]}` per line."""
    out = Candidates()
    for n, line in lines(path):
        obj = _json(line, path, n)
        qid = str(_field(obj, "qid", path, n))
        if qid in out.hits:
            raise InputError(f"duplicate query id '{qid}'", path, n)
        if obj.get("query"):
            out.queries[qid] = str(obj["query"])
        hits, seen = [], set()
        for h in _field(obj, "hits", path, n):
            did = str(_field(h, "docid", path, n))
            if did in seen:
                raise InputError(f"document '{did}' appears twice for query '{qid}'", path, n)
            seen.add(did)
            text = h.get("content")
            if text is not None and not str(text).strip():
                raise InputError(f"empty passage '{did}' for query '{qid}'", path, n)
            try:
                score = float(h.get("score", -len(hits)))
            except (TypeError, ValueError):
                raise InputError(f"score of '{did}' must be a number", path, n) from None
            hits.append(Hit(did, score, None if text is None else str(text)))
        out.hits[qid] = sorted(hits, key=lambda x: -x.score)  # stable: ties keep file order
    return out


def write_candidates(cands: Candidates, path: str | Path) -> None:
    with open_text(path, "wt") as f:
        for qid, hits in cands.hits.items():
            row = {
                "qid": qid,
                "query": cands.queries.get(qid, ""),
                "hits": [
                    {
                        "docid": h.doc_id,
                        "rank": r,
                        "score": h.score,
                        **({"content": h.text} if h.text else {}),
                    }
                    for r, h in enumerate(hits, 1)
                ],
            }
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_bge_jsonl(path: str | Path) -> list[tuple[str, list[str], list[str]]]:
    """FlagEmbedding training jsonl `{"query", "pos": [...], "neg": [...]}` -> (query, positives, negatives)."""
    out = []
    for n, line in lines(path):
        obj = _json(line, path, n)
        q, pos, neg = _field(obj, "query", path, n), _field(obj, "pos", path, n), obj.get("neg", [])
        if not str(q).strip() or not pos or any(not str(t).strip() for t in [*pos, *neg]):
            raise InputError("empty query or passage", path, n)
        out.append((str(q).strip(), [str(t) for t in pos], [str(t) for t in neg]))
    return out


_SMART_FIELD = re.compile(r"^\.([A-Z])(?:\s+(\S+))?\s*$")


def _smart_records(path: str | Path) -> Iterator[tuple[int, str, dict[str, str]]]:
    """(line, .I id, {field letter: text}) for each record of a SMART-style file."""
    rec_id, start, fields, current = None, 0, {}, None
    for n, line in lines(path):
        m = _SMART_FIELD.match(line)
        if m and m.group(1) == "I":
            if rec_id is not None:
                yield start, rec_id, fields
            if not m.group(2):
                raise InputError("'.I' without an id", path, n)
            rec_id, start, fields, current = m.group(2), n, {}, None
        elif m and not m.group(2):
            current = m.group(1)
            fields.setdefault(current, "")
        elif rec_id is None:
            raise InputError("text before the first '.I' record", path, n)
        elif current is not None:
            fields[current] += line.strip() + " "
    if rec_id is not None:
        yield start, rec_id, fields


def read_smart_docs(path: str | Path, skip_empty: bool = False) -> dict[str, Document]:
    """Cranfield / CISI / ADI documents: `.I id`, `.T` title, `.W` text (ids without leading zeros).

    `skip_empty` drops records with no text (Cranfield has two, 471 and 995) instead of refusing them."""
    corpus: dict[str, Document] = {}
    for n, rid, f in _smart_records(path):
        did = str(int(rid)) if rid.isdigit() else rid
        text, title = f.get("W", "").strip(), f.get("T", "").strip()
        if not text and not title:
            if skip_empty:
                continue
            raise InputError(f"document '{did}' is empty", path, n)
        if did in corpus:
            raise InputError(f"duplicate document id '{did}'", path, n)
        corpus[did] = Document(did, text or title, title if text else "")
    return corpus


def read_smart_queries(path: str | Path, renumber: bool = False) -> dict[str, str]:
    """SMART queries (`.I`, `.W`). `renumber` numbers them 1.. in file order (Cranfield's qrels do)."""
    queries: dict[str, str] = {}
    for i, (n, rid, f) in enumerate(_smart_records(path), 1):
        qid = str(i) if renumber else (str(int(rid)) if rid.isdigit() else rid)
        text = f.get("W", "").strip()
        if not text:
            raise InputError(f"query '{rid}' has empty text", path, n)
        if qid in queries:
            raise InputError(f"duplicate query id '{qid}'", path, n)
        queries[qid] = text
    return queries


def read_smart_qrels(path: str | Path, cranfield: bool = False) -> Qrels:
    """`qid docid ...` per line. CISI/ADI: each line marks a relevant pair (1). Cranfield grades
    1 (complete answer) .. 4 (minimum interest) become 4 .. 1; its -1 lines become 0 (not relevant)."""
    qrels: Qrels = {}
    for n, line in lines(path):
        cols = line.split()
        if len(cols) < 3:
            raise InputError(f"expected at least 3 columns 'qid docid rel', got {len(cols)}", path, n)
        qid, did = str(_int(cols[0], path, n, "query id")), str(_int(cols[1], path, n, "document id"))
        if cranfield:
            code = _int(cols[2], path, n, "relevance code")
            rel = 5 - code if 1 <= code <= 4 else 0
        else:
            rel = 1
        docs = qrels.setdefault(qid, {})
        if did in docs and not cranfield:
            raise InputError(f"duplicate judgement for query '{qid}', document '{did}'", path, n)
        docs[did] = max(rel, docs.get(did, 0))
    return qrels


def _line_at(data: str, offset: int) -> int:
    return data.count("\n", 0, offset) + 1


_TAG = re.compile(r"<(DOCNO|num)>\s*(.*?)\s*</\1>", re.S)


def read_trec_sgml_docs(path: str | Path) -> dict[str, Document]:
    """TREC SGML documents: `<DOC><DOCNO>id</DOCNO> text </DOC>`."""
    with open_text(path) as f:
        data = f.read()
    corpus: dict[str, Document] = {}
    for m in re.finditer(r"<DOC>(.*?)</DOC>", data, re.S):
        body = m.group(1)
        no = _TAG.search(body)
        if not no:
            raise InputError("<DOC> without <DOCNO>", path, _line_at(data, m.start()))
        text = " ".join(_TAG.sub("", body).split())
        if not text:
            raise InputError(f"document '{no.group(2)}' is empty", path, _line_at(data, m.start()))
        if no.group(2) in corpus:
            raise InputError(f"duplicate document id '{no.group(2)}'", path, _line_at(data, m.start()))
        corpus[no.group(2)] = Document(no.group(2), text)
    return corpus


def read_trec_topics(path: str | Path) -> dict[str, str]:
    """TREC topics: `<top><num>id</num><title>text</title></top>`."""
    with open_text(path) as f:
        data = f.read()
    queries: dict[str, str] = {}
    for m in re.finditer(r"<top>(.*?)</top>", data, re.S):
        num = re.search(r"<num>\s*(.*?)\s*</num>", m.group(1), re.S)
        title = re.search(r"<title>\s*(.*?)\s*(?:</title>|$)", m.group(1), re.S)
        if not num or not title or not title.group(1).strip():
            raise InputError("topic without <num> or <title> text", path, _line_at(data, m.start()))
        queries[num.group(1)] = " ".join(title.group(1).split()).lower()
    return queries
