"""Queries, corpus and qrels files read in whatever format they hold, told apart by content.

The first non-blank line decides: ``{`` starts a JSON-lines file (BEIR), ``<top>`` TREC topics, ``<DOC>``
TREC SGML documents, ``.I`` a SMART record; otherwise tab-separated columns (MS MARCO / TREC DL TSV).
The file name only decides what the content cannot: Cranfield's 3-column cranqrel against headerless BEIR
qrels, and a first line that fits no format in a file whose name says one (the reader then names the bad
line). An explicit `format` skips the sniffing. When nothing fits, the error lists the formats tried.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal, get_args

from rankscope.data import readers as r
from rankscope.data._io import iter_lines, require_file
from rankscope.data.types import Document, Qrels
from rankscope.errors import InputError

QueriesFormat = Literal["beir", "trec-topics", "smart", "tsv"]
CorpusFormat = Literal["beir", "trec-sgml", "smart", "tsv"]
QrelsFormat = Literal["trec", "beir", "smart", "cranfield"]

_TRIED_QUERIES = "BEIR jsonl ('{...}'), TREC topics ('<top>'), SMART ('.I id'), TSV ('qid<TAB>text')"
_TRIED_CORPUS = "BEIR jsonl ('{...}'), TREC SGML ('<DOC>'), SMART ('.I id'), TSV ('pid<TAB>text')"
_TRIED_QRELS = (
    "TREC ('qid Q0 docid rel'), BEIR ('query-id corpus-id score'), SMART ('qid docid 0 0.0'), "
    "Cranfield ('qid docid code')"
)
_SMART_ID = re.compile(r"^\.I(\s|$)")
_SMART_REL = re.compile(r"^-?\d+\.\d+$")


def first_line(path: str | Path) -> tuple[int, str]:
    """(line number, text) of the first non-blank line; InputError for an empty file."""
    lines = iter_lines(path)
    try:
        for lineno, line in lines:
            if line.strip():
                return lineno, line.strip()
    finally:
        lines.close()
    raise InputError("empty file: nothing to read", path)


def _check(fmt: str | None, choices: object, what: str) -> None:
    allowed = get_args(choices)
    if fmt is not None and fmt not in allowed:
        raise InputError(f"unknown {what} format {fmt!r}: expected one of {', '.join(allowed)}", "format")


def _sgml_or_smart(line: str) -> str | None:
    low = line.lower()
    if line.startswith("{"):
        return "beir"
    if low.startswith("<top>"):
        return "trec-topics"
    if low.startswith("<doc>"):
        return "trec-sgml"
    if _SMART_ID.match(line):
        return "smart"
    return None


def _queries_by_name(path: str | Path) -> QueriesFormat | None:
    name = Path(path).name.lower().removesuffix(".gz")
    if name.endswith(".jsonl"):
        return "beir"
    if name.endswith((".trec", ".xml")):
        return "trec-topics"
    if name.endswith(".qry"):
        return "smart"
    if name.endswith((".tsv", ".txt")):
        return "tsv"
    return None


def _corpus_by_name(path: str | Path) -> CorpusFormat | None:
    name = Path(path).name.lower().removesuffix(".gz")
    if name.endswith(".jsonl"):
        return "beir"
    if name.endswith(".trec"):
        return "trec-sgml"
    if name.endswith(".all") or name.startswith("cran.all"):
        return "smart"
    if name.endswith(".tsv"):
        return "tsv"
    return None


def sniff_queries_format(path: str | Path) -> QueriesFormat:
    """The format of a queries file, from its first non-blank line."""
    lineno, line = first_line(path)
    kind = _sgml_or_smart(line)
    if kind in ("beir", "trec-topics", "smart"):
        return kind  # type: ignore[return-value]
    if "\t" in line and kind is None:
        return "tsv"
    by_name = _queries_by_name(path)
    if by_name is not None:
        return by_name
    raise InputError(f"cannot tell the queries format: tried {_TRIED_QUERIES}", path, lineno)


def sniff_corpus_format(path: str | Path) -> CorpusFormat:
    """The format of a corpus file, from its first non-blank line."""
    lineno, line = first_line(path)
    kind = _sgml_or_smart(line)
    if kind in ("beir", "trec-sgml", "smart"):
        return kind  # type: ignore[return-value]
    if "\t" in line and kind is None:
        return "tsv"
    by_name = _corpus_by_name(path)
    if by_name is not None:
        return by_name
    raise InputError(f"cannot tell the corpus format: tried {_TRIED_CORPUS}", path, lineno)


def sniff_qrels_format(path: str | Path) -> QrelsFormat:
    """The format of a qrels file, from the columns of its first non-blank line (and, for 3 columns, the
    file name: cranqrel* is Cranfield, anything else BEIR)."""
    lineno, line = first_line(path)
    cols = line.split()
    if cols[0].lower() == "query-id":
        return "beir"
    if len(cols) == 4:
        return "smart" if cols[2] == "0" and _SMART_REL.match(cols[3]) else "trec"
    if len(cols) == 3:
        return "cranfield" if Path(path).name.lower().startswith("cranqrel") else "beir"
    raise InputError(
        f"cannot tell the qrels format ({len(cols)} columns): tried {_TRIED_QRELS}", path, lineno
    )


def read_queries_file(path: str | Path, format: QueriesFormat | None = None) -> dict[str, str]:
    """Queries in BEIR jsonl, TREC topics, SMART or qid<TAB>text form, sniffed unless `format` is given."""
    _check(format, QueriesFormat, "queries")
    require_file(path)
    fmt = format or sniff_queries_format(path)
    if fmt == "beir":
        return r.read_beir_queries(path)
    if fmt == "trec-topics":
        return r.read_trec_topics(path)
    if fmt == "smart":
        return r.read_smart_queries(path)
    return r.read_queries_tsv(path)


def read_corpus_file(path: str | Path, format: CorpusFormat | None = None) -> dict[str, Document]:
    """A corpus in BEIR jsonl, TREC SGML, SMART or pid<TAB>text form, sniffed unless `format` is given."""
    _check(format, CorpusFormat, "corpus")
    require_file(path)
    fmt = format or sniff_corpus_format(path)
    if fmt == "beir":
        return r.read_beir_corpus(path)
    if fmt == "trec-sgml":
        return r.read_trec_sgml_docs(path)
    if fmt == "smart":
        return r.read_smart_docs(path)
    return r.read_msmarco_collection(path)


def read_qrels_file(path: str | Path, format: QrelsFormat | None = None) -> Qrels:
    """Qrels in TREC, BEIR, SMART (CISI/ADI .REL) or Cranfield form, sniffed unless `format` is given."""
    _check(format, QrelsFormat, "qrels")
    require_file(path)
    fmt = format or sniff_qrels_format(path)
    if fmt == "trec":
        return r.read_trec_qrels(path)
    if fmt == "beir":
        return r.read_beir_qrels(path)
    return r.read_smart_qrels(path, cranfield=fmt == "cranfield")
