"""`rankscope rerank`: a zero-shot or fine-tuned reranker over candidates, optionally fused with the
first stage."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer

from rankscope.cli.app import (
    CandOpt,
    CorpusOpt,
    DatasetOpt,
    MeasuresOpt,
    QrelsOpt,
    QueriesOpt,
    app,
    console,
    print_docs_cut,
    print_metrics,
    rerank_timing,
)
from rankscope.errors import InputError


def fusion_weight(
    value: str | None, option: str = "--fuse-weight"
) -> tuple[float | None, dict[str, object] | None]:
    """`--fuse-weight`: a number in [0, 1], or a JSON file written by `rankscope fuse` (the weight chosen
    on a dev set, recorded with how it was chosen)."""
    if value is None:
        return None, None
    path = Path(value)
    if path.is_file():
        try:
            choice = json.loads(path.read_text())
            return float(choice["weight"]), choice
        except (ValueError, KeyError, TypeError) as e:
            raise InputError(f"not a fusion choice written by `rankscope fuse` ({e})", path) from None
    try:
        weight = float(value)
    except ValueError:
        msg = f"expected a weight in [0, 1] or a fusion.json file, got '{value}'"
        raise InputError(msg, option) from None
    if not 0.0 <= weight <= 1.0:
        raise InputError(f"the weight must lie in [0, 1], got {weight}", option)
    return weight, None


def check_choice(
    choice: dict[str, object],
    method: str,
    norm: str,
    path: Path,
    options: tuple[str, str] = ("--fuse", "--fuse-norm"),
) -> None:
    """A weight chosen on a dev set holds only for the fusion it was chosen with: `--fuse` (and, for
    interpolation, `--fuse-norm`) must match the method and norm that fusion.json records."""
    chosen = str(choice.get("method", "interpolate"))
    if chosen != method:
        raise InputError(
            f"this weight was chosen for {options[0]} {chosen}, not {method}: pass {options[0]} {chosen}",
            path,
        )
    recorded = str(choice.get("norm", "minmax"))
    if method == "interpolate" and recorded != norm:
        msg = f"this weight was chosen with --norm {recorded}, not {norm}: pass {options[1]} {recorded}"
        raise InputError(msg, path)


@app.command()
def rerank(
    out: Annotated[Path, typer.Option(help="output folder: run.trec, metrics.json, config.yaml")],
    model: Annotated[
        str | None, typer.Option(help="smollm2-135m, gemma3-270m, minilm-l6, a folder, a Hub id or .gguf")
    ] = None,
    scorer: Annotated[
        str | None, typer.Option(help="yes-no, query-likelihood, pairwise, bi-encoder, cross-encoder, ...")
    ] = None,
    run: Annotated[
        Path | None, typer.Option(help="a trained run folder: its model, scorer and adapter score")
    ] = None,
    adapter: Annotated[
        str | None,
        typer.Option(
            "--checkpoint", "--adapter", help="with --run: best (default), final, a step or a folder"
        ),
    ] = None,
    merge: Annotated[
        bool,
        typer.Option(
            help="with --run: merge LoRA adapters into the weights before scoring (about 2x faster on "
            "CPU; in bf16 the scores move a little)"
        ),
    ] = False,
    dataset: DatasetOpt = None,
    candidates: CandOpt = "bm25",
    queries: QueriesOpt = None,
    qrels: QrelsOpt = None,
    corpus: CorpusOpt = None,
    depth: Annotated[int, typer.Option(min=1, help="candidates reranked per query")] = 100,
    pairwise_top: Annotated[int, typer.Option(min=1, help="top-k compared pairwise (pairwise scorer)")] = 20,
    max_queries: Annotated[
        int | None,
        typer.Option(min=1, help="rerank only N queries: the N smallest ids (sorted as strings)"),
    ] = None,
    max_query_tokens: Annotated[
        int | None, typer.Option(help="query token budget (default: the scorer's, or the run's own)")
    ] = None,
    max_doc_tokens: Annotated[
        int | None, typer.Option(help="document token budget (default: the scorer's, or the run's own)")
    ] = None,
    measures: MeasuresOpt = None,
    fuse: Annotated[
        str | None, typer.Option(help="fuse with the first stage: interpolate (normalised scores) or rrf")
    ] = None,
    fuse_weight: Annotated[
        str | None, typer.Option(help="reranker weight in [0, 1], or the fusion.json of `rankscope fuse`")
    ] = None,
    fuse_norm: Annotated[
        str | None,
        typer.Option(
            help="score normalisation for interpolate: minmax (the default) or zscore; with a fusion.json, "
            "its recorded one"
        ),
    ] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N")] = "auto",
    dtype: Annotated[
        str, typer.Option(help="auto (bf16 on CUDA and bf16-capable CPUs), float32, bfloat16")
    ] = "auto",
    trust_remote_code: Annotated[bool, typer.Option(help="run a Hub model's own code")] = False,
    backend: Annotated[
        str, typer.Option(help="torch, or llama.cpp for a .gguf --model (needs llama-cpp-python)")
    ] = "torch",
    system_prompt: Annotated[
        str | None,
        typer.Option(
            help="system message of chat prompts (yes-no, pairwise); default: the chat template's own "
            "dropped; '@default' keeps it"
        ),
    ] = None,
    overwrite: bool = False,
    stream: Annotated[
        bool, typer.Option(help="read the candidates file query by query: memory bounded by a few queries")
    ] = False,
) -> None:
    """Rerank candidates with a (zero-shot or fine-tuned) scorer and evaluate the run."""
    from rankscope.data.readers import write_trec_run
    from rankscope.evaluate.fusion import depth_note
    from rankscope.evaluate.fusion import fuse as fuse_runs
    from rankscope.evaluate.metrics import evaluate
    from rankscope.io import atomic_dir, write_json, write_yaml
    from rankscope.pipeline import load_inputs, run_rerank
    from rankscope.reranker import Reranker
    from rankscope.scorers.registry import check_budgets, check_scorer

    if run is None:
        if not model:
            raise InputError("give --model and --scorer, or --run with a trained run folder", "--model")
        from rankscope.trained import exported_scorer  # torch: not at import, so --help stays quick

        scorer = scorer or exported_scorer(model)
        if not scorer:
            raise InputError("--model needs --scorer (which formulation scores with it)", "--scorer")
        check_scorer(scorer)
    elif model or scorer:
        raise InputError("--run brings its own model and scorer: drop --model/--scorer", "--run")
    if merge and run is None:
        raise InputError("--merge merges a trained run's adapters: it needs --run", "--merge")
    if system_prompt is not None and (run is not None or stream):
        raise InputError(
            "--system-prompt applies to a zero-shot --model, without --run or --stream", "--system-prompt"
        )
    if backend != "torch" and (run is not None or stream):
        raise InputError("--backend llama.cpp scores a .gguf --model, without --run or --stream", "--backend")
    from rankscope.evaluate.fusion import check_settings

    check_settings(fuse, fuse_norm, "--fuse", "--fuse-norm")
    if measures:
        from rankscope.evaluate.metrics import parse_measures

        parse_measures(measures)  # a bad name stops here, not after the scoring
    weight, choice = fusion_weight(fuse_weight)
    if weight is not None and not fuse:
        raise InputError("--fuse-weight needs --fuse (interpolate or rrf) to fuse anything", "--fuse-weight")
    if fuse and weight is None:
        raise InputError("--fuse needs --fuse-weight (a number, or `rankscope fuse`'s fusion.json)", "--fuse")
    if fuse and choice is not None:
        fuse_norm = fuse_norm or str(choice.get("norm", "minmax"))  # the recorded one unless given
        check_choice(choice, fuse, fuse_norm, Path(str(fuse_weight)))
    fuse_norm = fuse_norm or "minmax"
    budgets = dict(max_query_tokens=max_query_tokens, max_doc_tokens=max_doc_tokens)
    check_budgets(**budgets)
    config = {
        "command": "rerank",
        "model": model,
        "scorer": scorer,
        "run": str(run) if run else None,
        "adapter": adapter,
        **({"merge": True} if merge else {}),
        "dataset": dataset,
        "candidates": candidates,
        "queries": queries,
        "qrels": qrels,
        "corpus": corpus,
        "depth": depth,
        "pairwise_top": pairwise_top,
        "max_queries": max_queries,
        **{k: v for k, v in budgets.items() if v is not None},
        "measures": measures,
        "fuse": fuse,
        "fuse_weight": fuse_weight,
        "fuse_norm": fuse_norm,
        "device": device,
        "dtype": dtype,
        "backend": backend,
        **({"system_prompt": system_prompt} if system_prompt is not None else {}),
    }
    if stream:
        from rankscope.cli.rerank_stream import rerank_streaming

        if fuse:
            raise InputError("--stream does not fuse with the first stage: drop --fuse", "--stream")
        load = dict(model=model, scorer=scorer, run=run, adapter=adapter, device=device, dtype=dtype)
        load.update(budgets, merge=merge)
        files = dict(dataset=dataset, candidates=candidates, queries=queries, qrels=qrels, corpus=corpus)
        sizes = dict(depth=depth, pairwise_top=pairwise_top, max_queries=max_queries, measures=measures)
        rerank_streaming(
            out, overwrite, config, trust_remote_code=trust_remote_code, **load, **files, **sizes
        )
        return
    from rankscope.data.registry import dataset_folder
    from rankscope.trained import run_inputs

    given = [candidates, queries, qrels, corpus, model, dataset_folder(dataset), *run_inputs(run, adapter)]
    with atomic_dir(out, overwrite, given) as tmp:  # --overwrite never replaces an input's folder
        inputs = load_inputs(
            dataset,
            candidates,
            queries=queries,
            qrels=qrels,
            corpus=corpus,
            depth=depth,
            max_queries=max_queries,
        )
        note = depth_note(choice, depth) if fuse and choice is not None else None
        if note:  # before the model loads, and recorded in OUT/fusion.json
            logging.getLogger("rankscope.evaluate").warning("%s: %s", fuse_weight, note)
        if run is not None:
            reranker = Reranker.from_run(run, adapter, device=device, dtype=dtype, merge=merge, **budgets)
        else:
            assert model and scorer
            load = dict(device=device, dtype=dtype, trust_remote_code=trust_remote_code, backend=backend)
            load.update(budgets)
            load["system_prompt"] = system_prompt
            reranker = Reranker.load(model, scorer, **load)  # type: ignore[arg-type]
        res = run_rerank(inputs, reranker, depth=depth, pairwise_top=pairwise_top, measures=measures)
        ranking, metrics = res.run, res.metrics
        if fuse:
            assert weight is not None
            first = {
                q: {h.doc_id: h.score for h in hits[:depth]} for q, hits in inputs.candidates.hits.items()
            }
            ranking = fuse_runs(res.run, first, weight, method=fuse, norm=fuse_norm)  # type: ignore[arg-type]
            qrels_ = inputs.collection.qrels
            metrics = evaluate(ranking, qrels_, measures) if qrels_ else {}
            write_trec_run(res.run, tmp / "run.reranker.trec", tag=f"rankscope-{reranker.scorer_name}")
            write_json(tmp / "metrics.reranker.json", res.metrics)
            write_json(
                tmp / "fusion.json",
                {
                    "method": fuse,
                    "norm": fuse_norm,
                    "weight": weight,
                    "chosen": choice or "given on the command line",
                    **({"note": note} if note else {}),
                },
            )
        write_trec_run(
            ranking, tmp / "run.trec", tag=f"rankscope-{reranker.scorer_name}{'-fused' if fuse else ''}"
        )
        write_json(tmp / "metrics.json", metrics)
        write_yaml(tmp / "config.yaml", config)
        write_json(tmp / "timing.json", rerank_timing(res.seconds, res.pairs, res.docs_cut))
    if run is not None and metrics:
        from rankscope.train.card import record_eval
        from rankscope.trained import adapter_folder

        name = dataset or Path(candidates or "candidates").name.split(".")[0]
        info = {
            "candidates": candidates,
            "depth": depth,
            "checkpoint": adapter,
            "fused": fuse,
            "output": str(out),
            **{k: v for k, v in budgets.items() if v is not None},
        }
        key = f"{name}-{candidates}-top{depth}" if dataset else name
        for part, value in (("query", max_query_tokens), ("doc", max_doc_tokens)):
            if value is not None:  # a budget other than the run's own is another evaluation
                key += f"-{part}{value}"
        folder = adapter_folder(run, adapter)  # however it was named: a step, a name or a folder
        if folder.resolve() != adapter_folder(run).resolve():  # so is another checkpoint than the default
            key += f"-{folder.name}"
        if fuse:
            key += f"-fused-{fuse}"
        record_eval(run, key, metrics, info)
    if fuse and res.metrics:
        console.print("reranker alone:")
        print_metrics(res.metrics)
        console.print(f"fused with the first stage ({fuse}, weight {weight}):")
    print_metrics(metrics)
    print_docs_cut(res.docs_cut)
    speed = res.pairs / max(res.seconds, 1e-9)
    console.print(f"{res.pairs} pairs in {res.seconds:.1f}s ({speed:.1f} pairs/s); wrote {out}")
