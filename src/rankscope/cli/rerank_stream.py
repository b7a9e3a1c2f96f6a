"""`rankscope rerank --stream`: the candidates file read query by query (bounded memory), run.trec
written as it goes into the temporary output folder. The run file and metrics equal the whole-file
path's (`--max-queries N` keeps the same N smallest query ids, found in one extra pass over the file;
scores up to float rounding, since a chunk batches pairs by length on its own), except that a trained
run's model card is not updated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rankscope.errors import InputError


def stream_inputs(
    dataset: str | None, candidates: str | None, queries: str | None, qrels: str | None, corpus: str | None
) -> tuple[Path, dict[str, str] | None, dict[str, Any] | None, dict[str, Any] | None, set[str] | None]:
    """The candidates file (a path, or a dataset's named set) and the query texts, qrels and corpus, and
    the queries to keep: a dataset's own when its named set is read (the file may hold other splits')."""
    from rankscope.data.formats import read_corpus_file, read_qrels_file, read_queries_file
    from rankscope.data.registry import load_dataset

    only = None
    if dataset:
        coll = load_dataset(dataset)
        path = coll.candidates.get(candidates or "") or candidates
        texts, judged, docs = coll.queries, coll.qrels, coll.corpus
        if (candidates or "") in coll.candidates:
            only = set(coll.queries)
    else:
        path = candidates
        texts = read_queries_file(queries) if queries else None
        judged = read_qrels_file(qrels) if qrels else None
        docs = read_corpus_file(corpus) if corpus else None
    if not path or not Path(path).is_file():
        raise InputError("--stream reads a candidates file: give --candidates FILE", "--candidates")
    if texts is not None and judged is not None:
        judged = {q: d for q, d in judged.items() if q in texts}
    return Path(path), texts, judged, docs, only


def rerank_stream(
    reranker: Any,
    tmp: Path,
    *,
    dataset: str | None,
    candidates: str | None,
    queries: str | None,
    qrels: str | None,
    corpus: str | None,
    depth: int,
    pairwise_top: int,
    max_queries: int | None,
    measures: list[str] | None,
) -> Any:
    """Rerank into tmp/run.trec and return the StreamResult (metrics, seconds, pairs)."""
    from rankscope.evaluate.stream import stream_rerank

    path, texts, judged, docs, only = stream_inputs(dataset, candidates, queries, qrels, corpus)
    reranker.pairwise_top = pairwise_top
    return stream_rerank(
        reranker,
        path,
        tmp / "run.trec",
        queries=texts,
        qrels=judged,
        corpus=docs,
        depth=depth,
        measures=measures,
        tag=f"rankscope-{reranker.scorer_name}",
        max_queries=max_queries,
        judged_seen_only=texts is None,
        only=only,
    )


def rerank_streaming(out: Path, overwrite: bool, config: dict[str, Any], **kw: Any) -> None:
    """The whole `rerank --stream` command: load the reranker, rerank into a temporary folder renamed to
    `out` at the end (run.trec, metrics.json, config.yaml, timing.json), print the metrics."""
    from rankscope.cli.app import console, print_docs_cut, print_metrics, rerank_timing
    from rankscope.io import atomic_dir, write_json, write_yaml
    from rankscope.reranker import Reranker

    model, scorer, run, adapter = kw.pop("model"), kw.pop("scorer"), kw.pop("run"), kw.pop("adapter")
    device, dtype, trust = kw.pop("device"), kw.pop("dtype"), kw.pop("trust_remote_code")
    budgets = {k: kw.pop(k) for k in ("max_query_tokens", "max_doc_tokens")}
    merge = kw.pop("merge")
    from rankscope.data.registry import dataset_folder
    from rankscope.trained import run_inputs

    given = [kw.get(k) for k in ("candidates", "queries", "qrels", "corpus")]
    given += [model, dataset_folder(kw.get("dataset")), *run_inputs(run, adapter)]
    with atomic_dir(out, overwrite, given) as tmp:  # --overwrite never replaces an input's folder
        if run is not None:
            reranker = Reranker.from_run(run, adapter, device=device, dtype=dtype, merge=merge, **budgets)
        else:
            load = dict(device=device, dtype=dtype, trust_remote_code=trust, **budgets)
            reranker = Reranker.load(model, scorer, **load)
        res = rerank_stream(reranker, tmp, **kw)
        write_json(tmp / "metrics.json", res.metrics)
        write_yaml(tmp / "config.yaml", {**config, "stream": True})
        write_json(tmp / "timing.json", rerank_timing(res.seconds, res.pairs, res.docs_cut))
    print_metrics(res.metrics)
    print_docs_cut(res.docs_cut)
    speed = res.pairs / max(res.seconds, 1e-9)
    console.print(
        f"{res.queries} queries, {res.pairs} pairs in {res.seconds:.1f}s ({speed:.1f} pairs/s); wrote {out}"
    )
