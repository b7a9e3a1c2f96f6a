"""Named datasets over the shared data folder, and collections built from user-given files.

Nothing is loaded or cached at import: `load_dataset` reads the files each time it is called.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from rankscope.data import readers as r
from rankscope.data._io import check_qrels_queries, subset_qrels
from rankscope.data.formats import read_corpus_file, read_qrels_file, read_queries_file
from rankscope.data.rlhn import rlhn_collection
from rankscope.data.types import Candidates, Collection, Document, Qrels

__all__ = ["read_corpus_file", "read_qrels_file", "read_queries_file"]  # moved to formats, kept importable
from rankscope.errors import InputError

MSMARCO = "MS MARCO non-commercial research"
GLASGOW = "free for research (Glasgow IR resources)"


def data_root() -> Path:
    """The data folder: $RANKSCOPE_DATA when set, else the first ``shared/data`` folder found in or above
    the working directory or this package (the checkout at X/main finds X/shared/data)."""
    env = os.environ.get("RANKSCOPE_DATA")
    if env:
        root = Path(env).expanduser()
        if not root.is_dir():
            raise InputError("RANKSCOPE_DATA does not name a folder", root)
        return root
    for start in (Path.cwd().resolve(), Path(__file__).resolve().parent):
        for folder in (start, *start.parents):
            candidate = folder / "shared" / "data"
            if candidate.is_dir():
                return candidate
    raise InputError(
        "no data folder found: set RANKSCOPE_DATA, or put the data at shared/data beside the checkout "
        "(for example X/main with X/shared/data)"
    )


DATA_PREFIX = "data:"


def resolve_data_path(value: str) -> Path:
    """`data:NAME` -> `data_root()/NAME`, refused (InputError) when it resolves outside the data folder:
    an absolute NAME, `..` climbing out, or a symbolic link pointing elsewhere. The path need not exist."""
    if not value.startswith(DATA_PREFIX):
        raise InputError(f"expected a '{DATA_PREFIX}NAME' path, got {value!r}")
    name = value.removeprefix(DATA_PREFIX)
    if not name.strip() or "\x00" in name:
        raise InputError(f"empty or invalid data path {value!r}")
    root = data_root().resolve()
    path = (root / name).resolve()
    if path != root and root not in path.parents:
        raise InputError(f"data path {value!r} resolves outside the data folder {root}")
    return path


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset split; `loader` builds its Collection from the data root."""

    name: str
    split: str
    folder: str
    description: str
    license: str
    loader: Callable[[Path], Collection]


def _judged_only(coll: Collection) -> Collection:
    """Keep only the queries that have judgements."""
    if coll.qrels is not None:
        coll.queries = {q: t for q, t in coll.queries.items() if q in coll.qrels}
    return coll


def _checked(name: str, queries: dict[str, str], qrels: Qrels, qrels_path: Path, **kw: object) -> Collection:
    check_qrels_queries(qrels, queries, qrels_path)
    return Collection(name, queries, qrels, **kw)  # type: ignore[arg-type]


DL19_CANDIDATES = {
    "bm25": "bm25_top100.jsonl.gz",
    "bm25-rm3": "bm25_rm3_top100.jsonl.gz",
    "tasb": "tasb_top100.jsonl.gz",
    "splade-pp": "splade_pp_ed_top100.jsonl.gz",
    "repllama": "repllama_top200.jsonl.gz",
}
DL21_CANDIDATES = {"bm25": "bm25_top100.jsonl.gz"}


def _trec_dl(name: str, folder: str, candidates: dict[str, str], root: Path) -> Collection:
    base = root / folder
    qrels_path = base / "qrels.txt"
    cands = {}
    for key, file in candidates.items():
        path = base / file
        if not path.is_file():
            raise InputError("no such file", path)
        cands[key] = str(path)
    queries = r.read_queries_tsv(base / "queries.tsv")
    return _checked(name, queries, r.read_trec_qrels(qrels_path), qrels_path, candidates=cands)


def _msmarco_dev(root: Path) -> Collection:
    base = root / "msmarco-passage-dev-small"
    qrels_path = base / "qrels.dev.small.txt"
    queries = r.read_queries_tsv(base / "queries.dev.small.tsv")
    return _judged_only(_checked("msmarco-dev-small", queries, r.read_trec_qrels(qrels_path), qrels_path))


DEV600_FILE = "msmarco-passage-dev-small/bm25_top20_600q.jsonl.gz"
DEV600_MODULUS = 4
"""The fixed train/dev split of the 600 MS MARCO dev queries with text: a query is in the dev part when
int(sha1(query id as UTF-8).hexdigest(), 16) % DEV600_MODULUS == 0 (139 dev, 461 train). It depends on
the id alone, so every spec and run, on any machine, gets the same split."""


def dev600_part(qid: str) -> str:
    """The part ("dev" or "train") of the 600-query MS MARCO set that `qid` is in (see DEV600_MODULUS)."""
    return "dev" if int(hashlib.sha1(qid.encode("utf-8")).hexdigest(), 16) % DEV600_MODULUS == 0 else "train"


def _msmarco_dev600(part: str, root: Path) -> Collection:
    """One part of the 600 dev-small queries with BM25 top-20 text; judgements restricted to the part.

    The candidates file holds all 600 queries: read it with `collection_candidates`, which keeps the part."""
    path = root / DEV600_FILE
    base = path.parent
    qrels_path = base / "qrels.dev.small.txt"
    cands = r.read_candidates(path)
    queries = {q: t for q, t in cands.queries.items() if dev600_part(q) == part}
    qrels = r.read_trec_qrels(qrels_path)
    judged = {q: qrels[q] for q in queries if q in qrels}
    return Collection(f"msmarco-dev600-{part}", queries, judged, candidates={"bm25": str(path)})


def _dl22(root: Path) -> Collection:
    base = root / "trec-dl-2022-passage"
    path = base / "bm25_top100.jsonl.gz"
    if not path.is_file():
        raise InputError("no such file", path)
    return Collection("dl22", r.read_queries_tsv(base / "queries.tsv"), None, candidates={"bm25": str(path)})


RLHN_FILE = "msmarco-passage-train-samples/rlhn_msmarco_25q.jsonl"


def _rlhn(root: Path) -> Collection:
    return rlhn_collection("msmarco-rlhn-25q", root / RLHN_FILE)


def _scifact(split: str, root: Path) -> Collection:
    corpus, queries, qrels = r.read_beir(root / "scifact", split)
    return Collection(f"scifact-{split}", queries, qrels, corpus)


def _nq_open(root: Path) -> Collection:
    queries, answers, corpus, qrels = r.read_nq_open(
        root / "nq-open-oracle-lost-in-the-middle" / "nq-open-oracle.jsonl.gz"
    )
    return Collection("nq-open", queries, qrels, corpus, answers=answers)


def _smart(name: str, docs: str, queries: str, rels: str, root: Path) -> Collection:
    base = root / name
    corpus = r.read_smart_docs(base / docs, skip_empty=True)
    qrels_path = base / rels
    coll = _checked(
        name, r.read_smart_queries(base / queries), r.read_smart_qrels(qrels_path), qrels_path, corpus=corpus
    )
    return _judged_only(coll)


def _vaswani(root: Path) -> Collection:
    base = root / "vaswani"
    # The documents are lower-cased in this distribution; the upper-case topics are lower-cased to match.
    queries = {q: t.lower() for q, t in r.read_trec_topics(base / "query-text.trec").items()}
    corpus: dict[str, Document] = r.read_trec_sgml_docs(base / "doc-text.trec.gz")
    qrels_path = base / "qrels"
    return _checked("vaswani", queries, r.read_trec_qrels(qrels_path), qrels_path, corpus=corpus)


_SPECS = [
    DatasetSpec(
        "dl19",
        "test",
        "trec-dl-2019-passage",
        "TREC DL 2019 passage: 43 judged queries, graded 0-3; candidates bm25, bm25-rm3, tasb, splade-pp "
        "(top 100) and repllama (top 200), with text",
        MSMARCO,
        partial(_trec_dl, "dl19", "trec-dl-2019-passage", DL19_CANDIDATES),
    ),
    DatasetSpec(
        "dl21",
        "test",
        "trec-dl-2021-passage",
        "TREC DL 2021 passage (MS MARCO v2): 53 judged queries, graded 0-3; bm25 top-100 with text",
        MSMARCO,
        partial(_trec_dl, "dl21", "trec-dl-2021-passage", DL21_CANDIDATES),
    ),
    DatasetSpec(
        "msmarco-dev-small",
        "dev",
        "msmarco-passage-dev-small",
        "MS MARCO passage dev small: queries and binary qrels, no passage text",
        MSMARCO,
        _msmarco_dev,
    ),
    DatasetSpec(
        "msmarco-dev600-train",
        "train",
        "msmarco-passage-dev-small",
        "MS MARCO dev small, the train part (461 queries, sha1(qid) % 4 != 0) of the 600 queries with "
        "BM25 top-20 text; one judged positive each, binary",
        MSMARCO,
        partial(_msmarco_dev600, "train"),
    ),
    DatasetSpec(
        "msmarco-dev600-dev",
        "dev",
        "msmarco-passage-dev-small",
        "MS MARCO dev small, the dev part (139 queries, sha1(qid) % 4 == 0) of the 600 queries with "
        "BM25 top-20 text, binary; an in-domain dev set disjoint from msmarco-dev600-train",
        MSMARCO,
        partial(_msmarco_dev600, "dev"),
    ),
    DatasetSpec(
        "msmarco-rlhn-25q",
        "train",
        "msmarco-passage-train-samples",
        "25 MS MARCO train queries, 1 positive + 25 hard negatives each; the 95 negatives an LLM flagged "
        "as likely relevant are unjudged and never used as negatives (read_rlhn gives the flags)",
        "Apache-2.0 (rlhn) + MS MARCO non-commercial research",
        _rlhn,
    ),
    DatasetSpec(
        "dl22",
        "unlabelled",
        "trec-dl-2022-passage",
        "TREC DL 2022 passage (MS MARCO v2): 76 queries, bm25 top-100 with text, NO judgements "
        "(unlabelled material: synthetic queries, distillation; never report a metric on it)",
        MSMARCO,
        _dl22,
    ),
    DatasetSpec(
        "scifact-train",
        "train",
        "scifact",
        "BEIR SciFact train: 809 claims over 5,183 abstracts",
        "CC BY 4.0 (claims) + ODC-By 1.0 (abstracts)",
        partial(_scifact, "train"),
    ),
    DatasetSpec(
        "scifact-test",
        "test",
        "scifact",
        "BEIR SciFact test: 300 claims over 5,183 abstracts",
        "CC BY 4.0 (claims) + ODC-By 1.0 (abstracts)",
        partial(_scifact, "test"),
    ),
    DatasetSpec(
        "nq-open",
        "test",
        "nq-open-oracle-lost-in-the-middle",
        "NQ-open questions with answers and one gold Wikipedia passage each (answer-match relevance)",
        "NQ CC BY-SA 3.0, Wikipedia CC BY-SA; repo MIT",
        _nq_open,
    ),
    DatasetSpec(
        "cranfield",
        "test",
        "cranfield",
        "Cranfield 1400 aeronautics abstracts, graded 0-4 (two empty records dropped)",
        GLASGOW,
        partial(_smart, "cranfield", "cran.all.1400.gz", "cran.qry", "cranqrel"),
    ),
    DatasetSpec(
        "cisi",
        "test",
        "cisi",
        "CISI library science abstracts, binary; the 76 judged of 112 queries",
        GLASGOW,
        partial(_smart, "cisi", "CISI.ALL.gz", "CISI.QRY", "CISI.REL"),
    ),
    DatasetSpec(
        "adi",
        "test",
        "adi",
        "ADI information science abstracts (tiny), binary",
        GLASGOW,
        partial(_smart, "adi", "ADI.ALL", "ADI.QRY", "ADI.REL"),
    ),
    DatasetSpec(
        "vaswani",
        "test",
        "vaswani",
        "Vaswani / NPL physics abstracts, binary",
        GLASGOW,
        _vaswani,
    ),
]
DATASETS: dict[str, DatasetSpec] = {spec.name: spec for spec in _SPECS}


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    """Make `spec.name` usable everywhere a dataset is named (`--dataset`, `train.datasets`, `dev.dataset`,
    `load_dataset`): `spec.loader(data_root)` builds its Collection."""
    if not spec.name or spec.name != spec.name.strip() or not callable(spec.loader):
        raise InputError(f"a dataset needs a name without surrounding spaces and a loader: {spec!r}", "spec")
    DATASETS[spec.name] = spec
    return spec


def get_spec(name: str) -> DatasetSpec:
    """The spec of a registered dataset; InputError listing the known names otherwise."""
    if name not in DATASETS:
        raise InputError(f"unknown dataset {name!r}: expected one of {', '.join(DATASETS)}", "--dataset")
    return DATASETS[name]


def dataset_folder(name: str | None) -> Path | None:
    """The folder a registered dataset is read from; None for no name, an unknown one or no data folder
    (an output folder is checked against it: replacing it would delete the data)."""
    if not name or name not in DATASETS:
        return None
    try:
        return data_root() / DATASETS[name].folder
    except InputError:
        return None


def load_dataset(name: str) -> Collection:
    """Load a registered dataset from the data root (candidate sets stay as file paths)."""
    return get_spec(name).loader(data_root())


def load_named(name: str) -> Collection:
    """`load_dataset` under its registered name, whatever its loader called it (`load_files` says
    "files"): the leak guards read an evaluation set's id space from it, and training keys a source's
    groups (and seeds their negatives) by it, so two datasets registered from files keep their queries
    apart (both were "files", and a query id in each merged into one dev query)."""
    coll = load_dataset(name)
    return coll if coll.name == name else replace(coll, name=name)


def load_candidates(source: Collection | str | Path, name: str = "bm25") -> Candidates:
    """Candidates to rerank: a dataset's named set (`load_candidates(load_dataset("dl19"), "bm25")`,
    restricted to that dataset's queries, so a split never hands out the other part's queries), or a
    candidates jsonl(.gz) file."""
    if isinstance(source, Collection):
        return collection_candidates(source, name)
    return r.read_candidates(source)


def collection_candidates(coll: Collection, name: str) -> Candidates:
    """Candidate set `name` of `coll`, restricted to the collection's queries (a file may hold more: the
    600-query MS MARCO file serves both msmarco-dev600 parts)."""
    if name not in coll.candidates:
        known = ", ".join(coll.candidates) or "none"
        raise InputError(f"unknown candidates '{name}' for {coll.name}: expected {known}", "--candidates")
    cands = r.read_candidates(coll.candidates[name])
    if set(cands.hits) <= set(coll.queries):
        return cands
    hits = {q: h for q, h in cands.hits.items() if q in coll.queries}
    return Candidates(hits, {q: t for q, t in cands.queries.items() if q in hits})


def describe(name: str) -> dict[str, object]:
    """Counts and license of a dataset: name, split, n_queries, n_docs (corpus size, else the number of
    distinct candidate documents over all candidate sets, else 0), n_judgements, license, candidates."""
    spec = get_spec(name)
    coll = spec.loader(data_root())
    if coll.corpus is not None:
        n_docs = len(coll.corpus)
    else:
        seen: set[str] = set()
        for key in coll.candidates:
            for hits in collection_candidates(coll, key).hits.values():
                seen.update(h.doc_id for h in hits)
        n_docs = len(seen)
    return {
        "name": name,
        "split": spec.split,
        "n_queries": len(coll.queries),
        "n_docs": n_docs,
        "n_judgements": sum(len(d) for d in coll.qrels.values()) if coll.qrels else 0,
        "license": spec.license,
        "candidates": list(coll.candidates),
    }


# --------------------------------------------------------------------------- collections from files


def _candidates_name(path: str | Path) -> str:
    name = Path(path).name
    for suffix in (".gz", ".jsonl", ".json"):
        name = name.removesuffix(suffix)
    return name or "candidates"


def load_files(
    queries: str | Path | None = None,
    qrels: str | Path | None = None,
    corpus: str | Path | None = None,
    candidates: str | Path | None = None,
) -> Collection:
    """A Collection from files, each format told by content (`rankscope.data.formats`).

    Without a queries file the query texts come from the candidates file. Judgements of queries that are
    not among the queries (official qrels against a subset) are skipped with one logged warning; qrels
    that judge none of them are refused."""
    if queries is None and candidates is None:
        raise InputError("give a queries file or a candidates file")
    cand_paths: dict[str, str] = {}
    if queries is not None:
        qtext = read_queries_file(queries)
    else:
        assert candidates is not None
        qtext = dict(r.read_candidates(candidates).queries)
    if candidates is not None:
        if not Path(candidates).is_file():
            raise InputError("no such file", candidates)
        cand_paths[_candidates_name(candidates)] = str(candidates)
    judged = None
    if qrels is not None:
        judged = subset_qrels(read_qrels_file(qrels), qtext, qrels)
    docs = read_corpus_file(corpus) if corpus is not None else None
    return Collection("files", qtext, judged, docs, candidates=cand_paths)
