"""Readers for the classic test collections: SMART files (Cranfield, CISI, ADI) and TREC SGML (Vaswani).

SMART files hold records that start with ``.I id`` and carry fields ``.T`` (title), ``.A`` (authors),
``.B`` (bibliography), ``.W`` (text), ``.X`` (cross references) and so on, each marker alone on its line.
The original files have quirks that these readers absorb (see `read_smart_docs`). Numeric ids lose their
leading zeros, so ``.I 001`` and a qrels ``1`` name the same record.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from rankscope.data._io import iter_lines, iter_records, parse_int, require_records
from rankscope.data.types import Document, Qrels
from rankscope.errors import InputError

CRANFIELD_GRADES: dict[int, int] = {1: 4, 2: 3, 3: 2, 4: 1, -1: 0}
"""Cranfield relevance code -> graded relevance (higher is better).

cranqrel.readme gives Cleverdon's codes: 1 = complete answer, 2 = high degree of relevance, 3 = useful
background, 4 = minimum interest (5 = no interest, never listed). They are reversed to 4..1 so that larger
means more relevant, as trec_eval and nDCG expect. Every query also has exactly one line with code -1,
which the readme does not explain: it points at a document on the query's own topic (for query 1,
"similarity laws for aerothermoelastic testing"), most likely the source paper the question was written
from, which Cranfield excluded from assessment; ir_datasets labels -1 "references of no interest". It maps
to 0: judged, not relevant, which is also how trec_eval treats the raw -1.
"""

_SMART_ID = re.compile(r"^\.I(?:\s+(\S*))?\s*$")
_SMART_FIELD = re.compile(r"^\.([A-Z])\s*$")


def _norm_id(raw: str) -> str:
    # ASCII digits only: str.isdigit() also accepts "²", which int() refuses; no int() length limit either.
    return (raw.lstrip("0") or "0") if raw.isascii() and raw.isdigit() else raw


def _smart_records(path: str | Path) -> Iterator[tuple[int, str, dict[str, str]]]:
    """Yield (line of the .I marker, record id, {field letter: text joined with single spaces}).

    A marker for a field the record already has (Cranfield 240 repeats .A and .B inside its abstract,
    576 and 578 repeat .W; CISI lists authors under several .A markers) does not start a new field: the
    lines after it continue the current one."""
    rec_id: str | None = None
    start = 0
    fields: dict[str, list[str]] = {}
    current: str | None = None

    def finish() -> tuple[int, str, dict[str, str]]:
        assert rec_id is not None
        return start, rec_id, {k: " ".join(v) for k, v in fields.items()}

    for lineno, line in iter_lines(path):
        m = _SMART_ID.match(line)
        if m:
            if rec_id is not None:
                yield finish()
            if not m.group(1):
                raise InputError("record marker '.I' without an id", path, lineno)
            rec_id, start, fields, current = _norm_id(m.group(1)), lineno, {}, None
            continue
        m = _SMART_FIELD.match(line)
        if rec_id is None:
            if line.strip():
                raise InputError("text before the first '.I' record", path, lineno)
            continue
        if m:
            if m.group(1) not in fields:
                current = m.group(1)
                fields[current] = []
            continue
        if current is None:
            if line.strip():
                raise InputError(f"text outside any field in record {rec_id!r}", path, lineno)
            continue
        if line.strip():
            fields[current].append(" ".join(line.split()))
    if rec_id is not None:
        yield finish()


def read_smart_docs(path: str | Path, skip_empty: bool = False) -> dict[str, Document]:
    """Read SMART documents (cran.all.1400, CISI.ALL, ADI.ALL): text from ``.W``, title from ``.T``.

    A record without ``.W`` text is an error, or is dropped when `skip_empty` (Cranfield's records 471
    and 995 are empty in the original distribution: every field is blank)."""
    docs: dict[str, Document] = {}
    for lineno, rid, fields in _smart_records(path):
        text, title = fields.get("W", ""), fields.get("T", "")
        if not text:
            if skip_empty:
                continue
            hint = (
                " (Cranfield's own cran.all.1400 has two: --dataset cranfield drops them)"
                if rid in {"471", "995"} and Path(path).name.startswith("cran")
                else ""
            )
            raise InputError(f"empty passage text for document {rid!r}{hint}", path, lineno)
        if rid in docs:
            raise InputError(f"duplicate document id {rid!r}", path, lineno)
        docs[rid] = Document(rid, text, title)
    return require_records(docs, path, "documents")


def read_smart_queries(path: str | Path, renumber: bool | None = None) -> dict[str, str]:
    """Read SMART queries (cran.qry, CISI.QRY, ADI.QRY): the ``.W`` text of each ``.I`` record.

    `renumber` replaces the ``.I`` ids by 1, 2, ... in file order. Cranfield needs it: cran.qry numbers
    its 225 queries 001, 002, 004, 008, ... 365, while cranqrel numbers them 1..225 in file order. The
    default (None) renumbers exactly when the file is named cran.qry[.gz]."""
    if renumber is None:
        renumber = Path(path).name.lower() in {"cran.qry", "cran.qry.gz"}
    queries: dict[str, str] = {}
    for i, (lineno, rid, fields) in enumerate(_smart_records(path), 1):
        qid = str(i) if renumber else rid
        text = fields.get("W", "")
        if not text:
            raise InputError(f"empty query text for query {rid!r}", path, lineno)
        if qid in queries:
            raise InputError(f"duplicate query id {qid!r}", path, lineno)
        queries[qid] = text
    return require_records(queries, path, "queries")


def read_smart_qrels(path: str | Path, cranfield: bool | None = None) -> Qrels:
    """Read SMART relevance files.

    CISI.REL and ADI.REL have 4 columns ``qid docid 0 0.000000``: a line means relevant (1).
    cranqrel has 3 columns ``qid docid code``, mapped through `CRANFIELD_GRADES`. `cranfield=None`
    tells them apart by the column count of the first line; every line must then have that count."""
    qrels: Qrels = {}
    ncols = 3 if cranfield else 4 if cranfield is not None else 0
    for lineno, parts in iter_records(path):
        if not ncols:
            ncols = len(parts) if len(parts) in (3, 4) else 4
        if len(parts) != ncols:
            layout = "qid docid code" if ncols == 3 else "qid docid 0 0.0"
            raise InputError(f"expected {ncols} columns '{layout}', found {len(parts)}", path, lineno)
        qid = _norm_id(parts[0])
        docid = _norm_id(parts[1])
        if ncols == 3:
            code = parse_int(parts[2], "relevance code", path, lineno)
            if code not in CRANFIELD_GRADES:
                raise InputError(
                    f"unknown Cranfield relevance code {code} (expected 1-4 or -1)", path, lineno
                )
            grade = CRANFIELD_GRADES[code]
        else:
            grade = 1
        judged = qrels.setdefault(qid, {})
        if docid in judged:
            raise InputError(f"duplicate judgement for query {qid!r}, document {docid!r}", path, lineno)
        judged[docid] = grade
    return require_records(qrels, path, "judgements")


# --------------------------------------------------------------------------- TREC SGML

_DOCNO = re.compile(r"<DOCNO>\s*(.*?)\s*</DOCNO>", re.I)
_ONLY_TAG = re.compile(r"^\s*</?[A-Za-z][\w-]*>\s*$")


def read_trec_sgml_docs(path: str | Path) -> dict[str, Document]:
    """Read TREC SGML documents: ``<DOC> <DOCNO>id</DOCNO> text </DOC>`` (Vaswani's doc-text.trec).

    Lines holding only a tag (``<TEXT>``, ``</TEXT>``) are dropped; text lines are joined with spaces."""
    docs: dict[str, Document] = {}
    start = 0
    docno: str | None = None
    body: list[str] | None = None
    for lineno, line in iter_lines(path):
        stripped = line.strip()
        if stripped.upper() == "<DOC>":
            if body is not None:
                raise InputError("<DOC> inside another <DOC>", path, lineno)
            start, docno, body = lineno, None, []
            continue
        if stripped.upper() == "</DOC>":
            if body is None:
                raise InputError("</DOC> without <DOC>", path, lineno)
            if docno is None:
                raise InputError("document without <DOCNO>", path, start)
            text = " ".join(body)
            if not text:
                raise InputError(f"empty passage text for document {docno!r}", path, start)
            if docno in docs:
                raise InputError(f"duplicate document id {docno!r}", path, start)
            docs[docno] = Document(docno, text)
            body = None
            continue
        if body is None:
            if stripped:
                raise InputError("text outside <DOC> ... </DOC>", path, lineno)
            continue
        m = _DOCNO.search(line)
        if m:
            if docno is not None:
                raise InputError("second <DOCNO> in one document", path, lineno)
            if not m.group(1):
                raise InputError("empty <DOCNO>", path, lineno)
            docno = m.group(1)
            line = line[: m.start()] + line[m.end() :]
        if line.strip() and not _ONLY_TAG.match(line):
            body.append(" ".join(line.split()))
    if body is not None:
        raise InputError("<DOC> not closed by </DOC>", path, start)
    return require_records(docs, path, "documents")


read_trec_docs = read_trec_sgml_docs

_NUM = re.compile(r"<num>\s*(?:Number:\s*)?([^<\s]+)", re.I)
_TITLE = re.compile(r"<title>\s*(?:Topic:\s*)?(.*?)\s*(?=</?[a-z]+>|\Z)", re.I | re.S)


def read_trec_topics(path: str | Path) -> dict[str, str]:
    """Read TREC topics ``<top> <num>id</num> <title>text</title> ... </top>``: id -> title text.

    Both ``<num>1</num>`` and the classic ``<num> Number: 301`` forms are accepted; whitespace in the
    title is collapsed and its case kept."""
    queries: dict[str, str] = {}
    start = 0
    block: list[str] | None = None
    for lineno, line in iter_lines(path):
        low = line.lower()
        if "<top>" in low:
            if block is not None:
                raise InputError("<top> inside another <top>", path, lineno)
            start, block = lineno, []
        if block is None:
            if line.strip():
                raise InputError("text outside <top> ... </top>", path, lineno)
            continue
        block.append(line)
        if "</top>" not in low:
            continue
        text = "\n".join(block)
        block = None
        num, title = _NUM.search(text), _TITLE.search(text)
        if not num:
            raise InputError("topic without <num>", path, start)
        qid = num.group(1)
        if not title or not title.group(1).strip():
            raise InputError(f"empty query text for topic {qid!r}", path, start)
        if qid in queries:
            raise InputError(f"duplicate query id {qid!r}", path, start)
        queries[qid] = " ".join(title.group(1).split())
    if block is not None:
        raise InputError("<top> not closed by </top>", path, start)
    return require_records(queries, path, "topics")
