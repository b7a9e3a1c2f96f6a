"""Named datasets over the shared data folder (`RANKSCOPE_DATA` points elsewhere), and file loading."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from rankscope.data import readers as r
from rankscope.data.nq import read_nq_open
from rankscope.data.types import Collection, Qrels
from rankscope.errors import InputError

MSMARCO = "MS MARCO non-commercial research"


def data_root() -> Path:
    """RANKSCOPE_DATA, else the `shared/data` folder beside the checkout (or above the working directory)."""
    env = os.environ.get("RANKSCOPE_DATA")
    if env:
        if not Path(env).is_dir():
            raise InputError("RANKSCOPE_DATA is not a folder", env)
        return Path(env)
    for start in (Path.cwd(), Path(__file__).resolve()):
        for folder in (start, *start.parents):
            cand = folder / "shared" / "data"
            if cand.is_dir():
                return cand
    raise InputError("no data folder found: put shared/data beside the checkout or set RANKSCOPE_DATA")


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    split: str
    folder: str
    description: str
    license: str
    loader: Callable[[Path], Collection]


def _restrict(coll: Collection) -> Collection:
    """Keep only judged queries (the collections judge a subset)."""
    if coll.qrels is not None:
        coll.queries = {q: t for q, t in coll.queries.items() if q in coll.qrels}
    return coll


def _dl(year: str, cands: dict[str, str], root: Path) -> Collection:
    folder = root / f"trec-dl-{year}-passage"
    return Collection(
        f"dl{year[2:]}",
        r.read_queries_tsv(folder / "queries.tsv"),
        r.read_trec_qrels(folder / "qrels.txt"),
        candidates={k: str(folder / v) for k, v in cands.items()},
    )


def _scifact(split: str, root: Path) -> Collection:
    folder = root / "scifact"
    qrels = r.read_beir_qrels(folder / "qrels" / f"{split}.tsv")
    coll = Collection(
        f"scifact-{split}",
        r.read_beir_queries(folder / "queries.jsonl"),
        qrels,
        r.read_beir_corpus(folder / "corpus.jsonl.gz"),
    )
    return _restrict(coll)


def _smart(name: str, docs: str, qry: str, rel: str, root: Path) -> Collection:
    folder = root / name
    cran = name == "cranfield"
    coll = Collection(
        name,
        r.read_smart_queries(folder / qry, renumber=cran),
        r.read_smart_qrels(folder / rel, cranfield=cran),
        r.read_smart_docs(folder / docs, skip_empty=True),
    )
    return _restrict(coll)


def _vaswani(root: Path) -> Collection:
    folder = root / "vaswani"
    return Collection(
        "vaswani",
        r.read_trec_topics(folder / "query-text.trec"),
        r.read_trec_qrels(folder / "qrels"),
        r.read_trec_sgml_docs(folder / "doc-text.trec.gz"),
    )


def _msmarco_dev(root: Path) -> Collection:
    folder = root / "msmarco-passage-dev-small"
    return Collection(
        "msmarco-dev-small",
        r.read_queries_tsv(folder / "queries.dev.small.tsv"),
        r.read_trec_qrels(folder / "qrels.dev.small.txt"),
    )


DL19_CANDS = {
    "bm25": "bm25_top100.jsonl.gz",
    "bm25-rm3": "bm25_rm3_top100.jsonl.gz",
    "tasb": "tasb_top100.jsonl.gz",
    "splade-pp": "splade_pp_ed_top100.jsonl.gz",
    "repllama": "repllama_top200.jsonl.gz",
}

DATASETS: dict[str, DatasetSpec] = {
    s.name: s
    for s in [
        DatasetSpec(
            "dl19",
            "test",
            "trec-dl-2019-passage",
            "TREC DL 2019 passage",
            MSMARCO,
            partial(_dl, "2019", DL19_CANDS),
        ),
        DatasetSpec(
            "dl21",
            "test",
            "trec-dl-2021-passage",
            "TREC DL 2021 passage (MS MARCO v2)",
            MSMARCO,
            partial(_dl, "2021", {"bm25": "bm25_top100.jsonl.gz"}),
        ),
        DatasetSpec(
            "msmarco-dev-small",
            "dev",
            "msmarco-passage-dev-small",
            "MS MARCO dev small, no text",
            MSMARCO,
            _msmarco_dev,
        ),
        DatasetSpec(
            "scifact-train",
            "train",
            "scifact",
            "BEIR SciFact",
            "CC BY 4.0 + ODC-By",
            partial(_scifact, "train"),
        ),
        DatasetSpec(
            "scifact-test", "test", "scifact", "BEIR SciFact", "CC BY 4.0 + ODC-By", partial(_scifact, "test")
        ),
        DatasetSpec(
            "nq-open",
            "train",
            "nq-open-oracle-lost-in-the-middle",
            "NQ-open with gold passages",
            "MIT, CC BY-SA",
            lambda root: read_nq_open(root / "nq-open-oracle-lost-in-the-middle" / "nq-open-oracle.jsonl.gz"),
        ),
        DatasetSpec(
            "cranfield",
            "test",
            "cranfield",
            "Cranfield 1400 (graded)",
            "research, free",
            partial(_smart, "cranfield", "cran.all.1400.gz", "cran.qry", "cranqrel"),
        ),
        DatasetSpec(
            "cisi",
            "test",
            "cisi",
            "CISI (judged queries only)",
            "research, free",
            partial(_smart, "cisi", "CISI.ALL.gz", "CISI.QRY", "CISI.REL"),
        ),
        DatasetSpec(
            "adi",
            "test",
            "adi",
            "ADI",
            "research, free",
            partial(_smart, "adi", "ADI.ALL", "ADI.QRY", "ADI.REL"),
        ),
        DatasetSpec(
            "vaswani", "test", "vaswani", "Vaswani / NPL physics abstracts", "research, free", _vaswani
        ),
    ]
}


def load_dataset(name: str) -> Collection:
    if name not in DATASETS:
        raise InputError(f"unknown dataset '{name}': expected one of {', '.join(DATASETS)}", "--dataset")
    return DATASETS[name].loader(data_root())


def describe(name: str) -> dict[str, object]:
    """Counts and license for `rankscope datasets`."""
    spec = DATASETS[name]
    coll = load_dataset(name)
    if coll.corpus is not None:
        n_docs = len(coll.corpus)
    elif "bm25" in coll.candidates:
        n_docs = len(
            {h.doc_id for hits in r.read_candidates(coll.candidates["bm25"]).hits.values() for h in hits}
        )
    else:
        n_docs = 0
    n_judged = sum(len(d) for d in coll.qrels.values()) if coll.qrels else 0
    return {
        "name": name,
        "split": spec.split,
        "n_queries": len(coll.queries),
        "n_docs": n_docs,
        "n_judgements": n_judged,
        "license": spec.license,
        "candidates": list(coll.candidates),
    }


def read_queries_file(path: str | Path) -> dict[str, str]:
    name = str(path)
    if name.endswith((".jsonl", ".jsonl.gz")):
        return r.read_beir_queries(path)
    if name.endswith((".trec", ".xml")):
        return r.read_trec_topics(path)
    return r.read_queries_tsv(path)


def read_corpus_file(path: str | Path) -> dict:
    name = str(path)
    if name.endswith((".jsonl", ".jsonl.gz")):
        return r.read_beir_corpus(path)
    if name.endswith((".trec", ".trec.gz")):
        return r.read_trec_sgml_docs(path)
    if name.endswith((".tsv", ".tsv.gz")):
        return r.read_msmarco_collection(path)
    return r.read_smart_docs(path)


def read_qrels_file(path: str | Path) -> Qrels:
    return r.read_qrels(path)


def load_files(
    queries: str | None = None,
    qrels: str | None = None,
    corpus: str | None = None,
    candidates: str | None = None,
) -> Collection:
    """A collection from files; qrels that name a query absent from the queries are refused."""
    qtext = read_queries_file(queries) if queries else {}
    if candidates:
        cands = r.read_candidates(candidates)
        qtext = {**cands.queries, **qtext}
    judged = read_qrels_file(qrels) if qrels else None
    if judged is not None and qtext:
        for n, line in r.lines(qrels):  # type: ignore[arg-type]
            qid = line.split()[0]
            if qid not in qtext and qid != "query-id":
                raise InputError(f"qrels for unknown query '{qid}'", qrels, n)
    coll = Collection("files", qtext, judged, read_corpus_file(corpus) if corpus else None)
    if candidates:
        coll.candidates["file"] = candidates
    return coll
