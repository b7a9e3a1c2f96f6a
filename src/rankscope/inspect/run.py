"""A trained run's scorers (fine-tuned and zero-shot) and `rankscope inspect RUN`: weight deltas, probes,
attention and adapter ablations on the run's own dev set, written into RUN/inspect/ all at once."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import random
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from rankscope.config import ExperimentSpec
from rankscope.data.readers import write_trec_run
from rankscope.errors import InputError
from rankscope.inspect.ablation import (
    ABLATION_FILE,
    Ablation,
    preset_ablations,
    run_ablation,
    run_file_name,
    save_ablation,
    window_ablations,
)
from rankscope.inspect.attention import ATTENTION_FILE, attention_study, save_attention
from rankscope.inspect.deltas import (
    DELTAS_FILE,
    DeltaTable,
    adapter_deltas,
    checkpoint_folders,
    history_of,
    lora_layers,
    save_deltas,
    weight_deltas,
)
from rankscope.inspect.probes import PROBES_FILE, labelled_pairs, labelled_triples, probe_study, save_probes
from rankscope.inspect.views import Item, base_model_view, check_inspectable
from rankscope.io import temporary_dir_for
from rankscope.methods.registry import PEFT_WEIGHTS, TRAINABLE_FILE
from rankscope.models.components import num_layers, parse_layers
from rankscope.scorers.base import Pair, Scorer
from rankscope.scorers.decoder import PairwiseScorer
from rankscope.train.devset import DevSet, build_dev_set
from rankscope.trained import BEST_DIR, adapter_folder, load_run_scorer, run_spec, zero_shot_scorer

log = logging.getLogger("rankscope.inspect")
INSPECT_DIR = "inspect"
INSPECT_FILE = "inspect.json"
Progress = Callable[[str, int, int], None]
"""progress(stage, done, total): called as each analysis advances."""


@dataclass
class RunScorers:
    """The fine-tuned scorer of a run and its zero-shot counterpart."""

    scorer: Scorer
    spec: ExperimentSpec
    adapter: Path
    base: Scorer | None = None
    """A separate zero-shot scorer, built only where the adapters cannot be switched off (full-weight
    training, Q-PEFT); for PEFT runs the zero-shot scorer is `scorer` with its adapters off."""

    @property
    def model(self) -> torch.nn.Module:
        return self.scorer.model  # type: ignore[attr-defined]

    @property
    def full_weight_base(self) -> torch.nn.Module | None:
        """The untrained model beside a full-weight fine-tune (method freeze), for weight deltas and
        weight-update ablation; None for other runs."""
        if self.base is None or not self.spec.method.trains_full_weights():
            return None
        return self.base.model  # type: ignore[attr-defined]

    @property
    def switchable(self) -> bool:
        """True when the adapters can be switched off in place (a PEFT model)."""
        return hasattr(self.model, "disable_adapter")

    @contextlib.contextmanager
    def zero_shot(self) -> Iterator[Scorer]:
        """The zero-shot scorer for the block: the base scorer, or the fine-tuned one with adapters off."""
        if self.base is not None:
            yield self.base
            return
        with base_model_view(self.model):
            yield self.scorer


def load_run_scorers(
    run_dir: str | Path,
    device: str = "cpu",
    dtype: torch.dtype = torch.float32,
    adapter: str | Path | None = None,
    zero_shot: bool = True,
) -> RunScorers:
    """Rebuild a run's base backbone + trained adapter/head + scorer from its spec.yaml and its best
    checkpoint (or `adapter`: "final", a step, a folder), and the zero-shot scorer for before/after."""
    run_dir = Path(run_dir)
    folder = adapter_folder(run_dir, adapter)
    scorer, spec = load_run_scorer(run_dir, folder, device, dtype)
    rs = RunScorers(scorer, spec, folder)
    if zero_shot and not rs.switchable:
        rs.base = zero_shot_scorer(spec, folder, device, dtype)
    return rs


def run_dev_data(spec: ExperimentSpec, max_queries: int | None = None) -> DevSet:
    """The run's dev set exactly as training evaluated it (rankscope.train.devset), capped at
    `max_queries` (default the spec's)."""
    return build_dev_set(spec, None, max_queries)


def candidate_items(dev: DevSet, n: int, pairwise: bool, seed: int = 0) -> list[Item]:
    """Up to `n` (query, document) pairs (or (query, A, B) triples of neighbouring candidates) drawn from
    the dev candidates with a fixed seed."""
    out: list[Item] = []
    for qid, hits in dev.candidates.hits.items():
        query = dev.queries.get(qid) or dev.candidates.queries.get(qid)
        texts = [
            h.text or (dev.corpus[h.doc_id].full_text if dev.corpus and h.doc_id in dev.corpus else "")
            for h in hits
        ]
        texts = [t for t in texts if t]
        if not query:
            continue
        if pairwise:
            out += [(query, a, b) for a, b in zip(texts, texts[1:], strict=False)]
        else:
            out += [Pair(query, t) for t in texts]
    rng = random.Random(seed)
    return rng.sample(out, min(n, len(out)))


@dataclass
class InspectOptions:
    probes: bool = True
    attention: bool = True
    ablation: bool = True
    deltas: bool = True
    windows: list[int] | None = None
    """sliding-window sizes of the ablation sweep; None: about a sixth of the layers; []: no sweep."""
    presets: list[str] | None = None
    """names of the preset ablations to run (attention-only, mlp-only, gate-only, ...); None: all."""
    stride: int | None = None
    """window start step; None: half the smallest window."""
    max_queries: int | None = None
    """dev queries reranked and probed (default: the spec's dev.max_queries)."""
    pca_layers: str | None = None
    """hidden-state layers (0 = embeddings) drawn as PCA scatter plots; default middle, best and last."""
    probe_pairs: int = 200
    """labelled pairs per class for the probes."""
    attention_pairs: int = 64
    folds: int = 5
    quick: bool = False
    """smaller labelled sets (at most 60 pairs a class, 32 attention pairs, 3 folds) and layer windows
    that do not overlap: a first look in a fraction of the time."""
    checkpoint: str | None = None
    """which trained state to inspect: the best checkpoint by default, "final", a step or a folder."""
    device: str = "auto"
    dtype: str = "auto"
    """auto: as training evaluated its dev set (optim.bf16: bf16 weights on bf16 GPUs, bf16 autocast
    where training used it), or float32, bfloat16 (no autocast)."""


@dataclass
class InspectResult:
    out: Path
    written: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def training_precision(spec: ExperimentSpec, device: str) -> tuple[torch.dtype, bool]:
    """(weight dtype, bf16 autocast) as training evaluated its dev set, so the analyses' fine-tuned and
    zero-shot numbers match metrics.jsonl: the backbone in bf16 on a bf16 GPU (fp32 for full-weight
    training), bf16 autocast wherever training used it (optim.bf16)."""
    from rankscope.runtime import use_bf16

    bf16 = use_bf16(spec.optim.bf16, device)
    full = spec.method.trains_full_weights()
    return (torch.bfloat16 if bf16 and device.startswith("cuda") and not full else torch.float32), bf16


def check_run(run_dir: str | Path) -> ExperimentSpec:
    """The run's spec; a clear InputError for a folder that is not a finished training run."""

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError("no such run folder", run_dir)
    spec = run_spec(run_dir)
    if not (run_dir / "adapter").is_dir():
        raise InputError(
            "the run has no trained adapter yet (adapter/): finish or resume the training", run_dir
        )
    return spec


def window_sizes(n_layers: int, windows: list[int] | None) -> list[int]:
    if windows is None:
        return [max(1, round(n_layers / 6))]
    bad = [w for w in windows if w < 1 or w > n_layers]
    if bad:
        raise InputError(f"window size {bad[0]} does not fit a model with {n_layers} layers", "--windows")
    return sorted(set(windows))


def chosen_presets(names: list[str] | None) -> list[Ablation]:
    """The preset ablations named (all of them for None); an InputError names an unknown one."""
    presets = preset_ablations()
    if names is None:
        return presets
    unknown = sorted(set(names) - {a.name for a in presets})
    if unknown:
        known = ", ".join(a.name for a in presets)
        raise InputError(f"unknown ablation preset '{unknown[0]}': expected one of {known}", "presets")
    return [a for a in presets if a.name in names]


def inspect_run(
    run_dir: str | Path, opts: InspectOptions | None = None, progress: Progress | None = None, **options: Any
) -> InspectResult:
    """Run the chosen analyses on a trained run and move their files into RUN/inspect/ at the end (each
    replaced atomically; files of analyses not run this time stay); nothing is written on an error.
    Keyword `options` set InspectOptions fields (`windows=6` is short for `windows=[6]`)."""
    from rankscope.runtime import pick_device, pick_dtype

    opts = dataclasses.replace(opts or InspectOptions(), **options)
    if isinstance(opts.windows, int):
        opts.windows = [opts.windows]
    if opts.quick:
        opts.probe_pairs = min(opts.probe_pairs, 60)
        opts.attention_pairs = min(opts.attention_pairs, 32)
        opts.folds = min(opts.folds, 3)
    chosen_presets(opts.presets)  # an unknown name fails before any work
    run_dir = Path(run_dir)
    spec = check_run(run_dir)
    step = progress or (lambda stage, done, total: None)
    device = pick_device(opts.device)
    if opts.dtype == "auto":
        dtype, autocast = training_precision(spec, device)
    else:
        dtype, autocast = pick_dtype(opts.dtype, device), False
    amp = (
        torch.autocast(torch.device(device).type, dtype=torch.bfloat16)
        if autocast
        else contextlib.nullcontext()
    )
    result = InspectResult(run_dir / INSPECT_DIR)
    tmp = temporary_dir_for(result.out)  # a killed inspection's folder is removed by the next
    try:
        t0 = time.perf_counter()
        step("loading the run", 0, 1)
        rs = load_run_scorers(run_dir, device, dtype, opts.checkpoint)
        step("loading the run", 1, 1)
        result.seconds["load"] = round(time.perf_counter() - t0, 2)
        lora = bool(lora_layers(rs.model))
        n_layers = num_layers(rs.model)
        if opts.deltas:
            _timed(result, "deltas", lambda: _deltas(run_dir, rs, tmp, lora, result, step))
        dev: DevSet | None = None
        if opts.probes or opts.attention or opts.ablation:
            t0 = time.perf_counter()
            step("dev set", 0, 1)
            dev = run_dev_data(rs.spec, opts.max_queries)
            step("dev set", 1, 1)
            result.seconds["dev set"] = round(time.perf_counter() - t0, 2)
        with amp:
            if opts.probes and dev is not None:
                _timed(result, "probes", lambda: _probes(rs, dev, opts, n_layers, tmp, result, step))
            if opts.attention and dev is not None:
                _timed(result, "attention", lambda: _attention(rs, dev, opts, tmp, result, step))
            if opts.ablation and dev is not None:
                _timed(
                    result,
                    "ablation",
                    lambda: _ablation(run_dir, rs, dev, opts, n_layers, lora, tmp, result, step),
                )
        info = {
            "run": str(run_dir.resolve()),
            "device": device,
            "dtype": str(dtype).removeprefix("torch."),
            "bf16_autocast": autocast,
            "options": asdict(opts),
            "dev": None if dev is None else {"source": dev.source, "queries": len(dev.candidates.hits)},
            "written": result.written,
            "skipped": result.skipped,
            "seconds": result.seconds,
        }
        (tmp / INSPECT_FILE).write_text(json.dumps(info, indent=2) + "\n")
        result.out.mkdir(exist_ok=True)
        if ABLATION_FILE in result.written:  # an earlier inspection's ablation runs go with its table
            for old in result.out.glob("ablation-*.trec"):
                old.unlink()
        for f in sorted(tmp.iterdir()):
            os.replace(f, result.out / f.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def _timed(result: InspectResult, name: str, fn: Callable[[], None]) -> None:
    t0 = time.perf_counter()
    fn()
    result.seconds[name] = round(time.perf_counter() - t0, 2)


def _deltas(
    run_dir: Path, rs: RunScorers, tmp: Path, lora: bool, result: InspectResult, step: Progress
) -> None:
    if (run_dir / DELTAS_FILE).is_file():
        result.skipped["deltas"] = f"recorded at every checkpoint during training ({DELTAS_FILE})"
        return
    base = rs.full_weight_base
    weights = TRAINABLE_FILE if base is not None else PEFT_WEIGHTS
    if not (lora or base is not None) or not (rs.adapter / weights).is_file():
        result.skipped["deltas"] = "the run trained no LoRA adapter and no full weights"
        return

    def table(folder: Path) -> DeltaTable:
        return weight_deltas(folder, base) if base is not None else adapter_deltas(folder, rs.model)

    found = checkpoint_folders(run_dir, weights)
    step("deltas", 0, len(found) + 1)
    tables = []
    for i, (s, folder) in enumerate(found):
        tables.append((s, folder.name, table(folder)))
        step("deltas", i + 1, len(found) + 1)
    summary = run_dir / "summary.json"
    final = json.loads(summary.read_text()).get("steps") if summary.is_file() else None
    if final is None or final not in {s for s, _, _ in tables}:
        last = final if final is not None else (tables[-1][0] + 1 if tables else 0)
        end = run_dir / "adapter"  # the final weights; rs.adapter may be the best checkpoint's
        end = end if (end / weights).is_file() else rs.adapter
        tables.append((int(last), end.name, table(end)))
    step("deltas", len(found) + 1, len(found) + 1)
    save_deltas(history_of(tables, "full" if base is not None else "lora"), tmp / DELTAS_FILE)
    result.written.append(DELTAS_FILE)


def _inspectable(rs: RunScorers) -> str | None:
    try:
        check_inspectable(rs.scorer)
    except InputError as e:
        return str(e)
    return None


def _probes(
    rs: RunScorers,
    dev: DevSet,
    opts: InspectOptions,
    n_layers: int,
    tmp: Path,
    result: InspectResult,
    step: Progress,
) -> None:
    why = _inspectable(rs)
    if why:
        result.skipped["probes"] = why
        return
    try:
        pca = parse_layers(opts.pca_layers, n_layers + 1) if opts.pca_layers else None
    except InputError as e:
        raise InputError(str(e), "--layers") from None
    step("probes", 0, 1)

    def pairs(per_class: int | None) -> tuple[list[Pair], Any]:
        return labelled_pairs(
            dev.candidates,
            dev.queries,
            dev.qrels,
            dev.corpus,
            per_class=per_class,
            min_relevance=rs.spec.train.min_relevance,
        )

    try:
        items, labels = pairs(opts.probe_pairs)
        probe_items: list[Item] = list(items)
        if isinstance(rs.scorer, PairwiseScorer):  # pairs within each query, from every labelled pair
            triples, labels = labelled_triples(*pairs(None), n=2 * opts.probe_pairs)
            probe_items = list(triples)
        res = probe_study(rs.scorer, probe_items, labels, rs.base, pca, opts.folds)
    except InputError as e:  # too few judged candidates of a class in the dev set
        result.skipped["probes"] = str(e)
        return
    step("probes", 1, 1)
    save_probes(res, tmp / PROBES_FILE)
    result.written.append(PROBES_FILE)


def _attention(
    rs: RunScorers, dev: DevSet, opts: InspectOptions, tmp: Path, result: InspectResult, step: Progress
) -> None:
    why = _inspectable(rs)
    if why:
        result.skipped["attention"] = why
        return
    if not rs.scorer.joint_attention:
        result.skipped["attention"] = (
            f"{rs.scorer.name}: query and document are encoded apart, "
            "so no document token attends to the query"
        )
        return
    items = candidate_items(dev, opts.attention_pairs, isinstance(rs.scorer, PairwiseScorer))
    if not items:
        result.skipped["attention"] = "no dev candidates with text"
        return
    step("attention", 0, 1)
    res = attention_study(rs.scorer, items, rs.base)
    step("attention", 1, 1)
    save_attention(res, tmp / ATTENTION_FILE)
    result.written.append(ATTENTION_FILE)


def selection_overlap(
    run_dir: Path, rs: RunScorers, dev: DevSet, opts: InspectOptions
) -> tuple[int, str | None]:
    """(how many of `dev`'s queries chose the inspected checkpoint, by which dev measure): the best
    checkpoint (RUN/best, or its step named) read best on the spec's dev queries, so on those queries its
    gain reads high; (0, None) for any other checkpoint."""
    from rankscope.train.best import read_best

    best = read_best(run_dir)
    if best is None:
        return 0, None
    chosen = {(run_dir / BEST_DIR).resolve(), (run_dir / best.source).resolve()}
    final = rs.adapter.resolve() == (run_dir / "adapter").resolve()
    if rs.adapter.resolve() not in chosen or final and opts.checkpoint not in (None, BEST_DIR):
        return 0, None  # the final weights named as such: no choice among checkpoints, even where it won
    if best.measure == "dev_loss" and rs.spec.dev.dataset:  # the loss of held-out training groups, not
        return 0, None  # of the dev dataset's queries that the ablation reranks
    return _selection_queries(rs, dev, opts), best.measure


def _selection_queries(rs: RunScorers, dev: DevSet, opts: InspectOptions) -> int:
    ids = set(dev.candidates.hits)
    if opts.max_queries is None or opts.max_queries == rs.spec.dev.max_queries:
        return len(ids)
    return len(ids & set(run_dev_data(rs.spec).candidates.hits))


def _ablation(
    run_dir: Path,
    rs: RunScorers,
    dev: DevSet,
    opts: InspectOptions,
    n_layers: int,
    lora: bool,
    tmp: Path,
    result: InspectResult,
    step: Progress,
) -> None:
    base = None if lora else rs.full_weight_base
    if not (lora or base is not None):
        result.skipped["ablation"] = "the run trained no LoRA adapters and no full weights to switch off"
        return
    if not dev.qrels:
        result.skipped["ablation"] = "the dev set has no judgements"
        return
    ablations = chosen_presets(opts.presets)
    sizes = window_sizes(n_layers, opts.windows)
    if sizes:
        stride = opts.stride or (min(sizes) if opts.quick else max(1, min(sizes) // 2))
        ablations += window_ablations(n_layers, sizes, stride)
    d = rs.spec.dev
    res = run_ablation(
        rs.scorer,
        dev.candidates,
        dev.queries,
        dev.qrels,
        ablations,
        dev.measures,
        d.depth,
        dev.corpus,
        d.pairwise_top,
        on_ablation=lambda done, total: step("ablation", done, total),  # in pairs scored, over all rerankings
        base=base,
    )
    res.selection_queries, res.selection_measure = selection_overlap(run_dir, rs, dev, opts)
    save_ablation(res, tmp / ABLATION_FILE)
    result.written.append(ABLATION_FILE)
    for name, run in res.runs.items():  # each reranking as a run file, for `rankscope compare`
        file = run_file_name(name)
        write_trec_run(run, tmp / file, file.removesuffix(".trec"))
        result.written.append(file)
