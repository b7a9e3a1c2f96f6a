"""Adapter ablation without retraining: switch LoRA off for chosen layers and components, rerank a dev
set, and report the share of the fine-tuned gain over zero-shot that remains:
share = (ablated - zero_shot) / (finetuned - zero_shot).

Switching off sets each chosen LoRA module's `scaling` to 0 (its update adds exactly 0) and always
restores it; zero-shot is peft's own `disable_adapter()`. A trained scoring head (linear-head,
cross-encoder) stays on in both: only the adapters are ablated.

A full-weight fine-tune (method freeze) is ablated the same way with the untrained model beside it:
switching a layer's component off copies the base model's weights into it (restored afterwards), and
zero-shot is every trained layer weight put back."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import nn

from rankscope.data.types import Candidates, Document, Qrels
from rankscope.errors import InputError
from rankscope.evaluate.compare import paired_p
from rankscope.evaluate.metrics import Run, evaluate, per_query
from rankscope.evaluate.rerank import rerank, rerank_pairwise, scoring_units
from rankscope.inspect.deltas import lora_layers
from rankscope.inspect.views import base_model_view, eval_mode
from rankscope.models.components import (
    COMPONENTS,
    GROUPS,
    classify,
    classify_parameters,
    expand_components,
    num_layers,
    parse_layers,
)
from rankscope.scorers.base import Scorer
from rankscope.scorers.decoder import PairwiseScorer

log = logging.getLogger("rankscope.inspect")
ABLATION_FILE = "ablation.json"
Layers = str | int | Sequence[int] | None


def _matcher(
    model: nn.Module, layers: Layers, components: str | Iterable[str] | None
) -> Callable[[tuple[int, str] | None], bool]:
    """Whether a (layer, component label) falls in `layers` x `components` (None: all); a fused label
    matches if any of the names it fuses is chosen."""
    comps = set(expand_components(components)) if components is not None else None
    chosen = set(parse_layers(layers, num_layers(model))) if layers is not None else None

    def hit(where: tuple[int, str] | None) -> bool:
        if where is None:
            return False
        layer, label = where
        return (chosen is None or layer in chosen) and (comps is None or bool(set(label.split("+")) & comps))

    return hit


def _selected(
    model: nn.Module, layers: Layers, components: str | Iterable[str] | None
) -> list[tuple[nn.Module, bool]]:
    """(LoRA module, whether it is in `layers` x `components`)."""
    hit = _matcher(model, layers, components)
    return [(module, hit(classify(name, model))) for name, module in lora_layers(model)]


@contextlib.contextmanager
def lora_off(
    model: nn.Module, layers: Layers = None, components: str | Iterable[str] | None = None
) -> Iterator[int]:
    """Switch off the LoRA modules in `layers` x `components` (None: all); yields how many; restores."""
    saved: list[tuple[nn.Module, dict[str, float]]] = []
    try:
        for module, hit in _selected(model, layers, components):
            if not hit:
                continue
            if getattr(module, "merged", False):
                raise InputError("adapters merged into the weights cannot be switched off")
            saved.append((module, dict(module.scaling)))
            for key in module.scaling:
                module.scaling[key] = 0.0
        yield len(saved)
    finally:
        for module, scaling in saved:
            module.scaling.update(scaling)


def trained_weights(model: nn.Module, base: nn.Module) -> dict[str, tuple[int, str]]:
    """The layer weights of a full fine-tune that differ from the untrained `base`: name -> (layer,
    component label). Weights outside the component vocabulary (embeddings, norms, a head) are left out,
    as a LoRA run's head is."""
    start = dict(base.named_parameters())
    out = {}
    for name, where in classify_parameters(model).items():
        ref = start.get(name)
        if ref is None:
            continue
        p = model.get_parameter(name)
        if ref.shape != p.shape:
            raise InputError(f"'{name}' has shape {tuple(p.shape)}, the base {tuple(ref.shape)}")
        if not torch.equal(p.detach(), ref.detach().to(p.device, p.dtype)):
            out[name] = where
    return out


@contextlib.contextmanager
def weights_off(
    model: nn.Module,
    base: nn.Module,
    layers: Layers = None,
    components: str | Iterable[str] | None = None,
    trained: dict[str, tuple[int, str]] | None = None,
) -> Iterator[int]:
    """Put the base model's values back into the trained weights in `layers` x `components` (None: all)
    of a full fine-tune; yields how many tensors; restores the fine-tuned values on exit."""
    trained = trained_weights(model, base) if trained is None else trained
    hit = _matcher(model, layers, components)
    start = dict(base.named_parameters())
    saved: list[tuple[torch.Tensor, torch.Tensor]] = []
    try:
        with torch.no_grad():
            for name, where in trained.items():
                if not hit(where):
                    continue
                p = model.get_parameter(name)
                saved.append((p, p.detach().clone()))
                p.copy_(start[name].detach().to(p.device, p.dtype))
        yield len(saved)
    finally:
        with torch.no_grad():
            for p, value in saved:
                p.copy_(value)


@dataclass(frozen=True)
class Ablation:
    """Which adapters (or a full fine-tune's trained weights) to switch off: those in `off_layers` x
    `off_components` (None: all)."""

    name: str
    off_layers: tuple[int, ...] | None = None
    off_components: tuple[str, ...] | None = None
    kind: Literal["preset", "window", "custom"] = "custom"
    window: tuple[int, int] | None = None
    """(size, start) for a window sweep entry."""


def keep_only(name: str, components: Iterable[str]) -> Ablation:
    """Keep the adapters of `components` (all layers); switch every other one off."""
    keep = set(expand_components(list(components)))
    return Ablation(name, None, tuple(c for c in COMPONENTS if c not in keep), "preset")


def preset_ablations() -> list[Ablation]:
    """attention-only, mlp-only, gate/up/down only, q/k/v/o only."""
    out = [keep_only("attention-only", ["attn"]), keep_only("mlp-only", ["mlp"])]
    out += [keep_only(f"{c.split('.')[1]}-only", [c]) for c in GROUPS["mlp"]]
    out += [keep_only(f"{c.split('.')[1]}-only", [c]) for c in GROUPS["attn"]]
    return out


def window_ablations(
    n_layers: int, sizes: Sequence[int], stride: int = 1, mode: Literal["keep", "drop"] = "keep"
) -> list[Ablation]:
    """Sliding layer windows: keep only (or drop) layers [start, start + size) for each size and start.
    The last window always ends at the last layer, so a stride that does not divide the layers still
    covers every layer (its last start is then nearer the one before it)."""
    out = []
    for size in sizes:
        last = max(n_layers - size, 0)
        starts = list(range(0, last + 1, max(1, stride)))
        if starts[-1] != last:
            starts.append(last)
        for start in starts:
            inside = set(range(start, min(start + size, n_layers)))
            off = inside if mode == "drop" else set(range(n_layers)) - inside
            name = f"{mode} {start}-{start + size - 1}"
            out.append(Ablation(name, tuple(sorted(off)), None, "window", (size, start)))
    return out


@dataclass
class AblationRow:
    name: str
    kind: str
    off_layers: list[int] | None
    off_components: list[str] | None
    modules_off: int
    metrics: dict[str, float]
    share: dict[str, float | None]
    window: list[int] | None = None


@dataclass
class WindowSweep:
    """Share of the primary measure's gain per (window size, start layer); None where no window."""

    mode: str
    stride: int
    sizes: list[int]
    starts: list[int]
    share: list[list[float | None]]


@dataclass
class AblationResult:
    measures: list[str]
    primary: str
    n_layers: int
    modules: int
    zero_shot: dict[str, float]
    finetuned: dict[str, float]
    rows: list[AblationRow] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    windows: WindowSweep | None = None
    updates: str = "adapters"
    """what was switched off: "adapters" (LoRA) or "weight updates" (a full fine-tune's weights)."""
    gain_p: float | None = None
    """paired t-test p-value of the gain (fine-tuned against zero-shot on the primary measure, over the dev
    queries): at 0.05 or above the gain is noise, and so are its shares. None in older ablation.json."""
    gain_queries: int | None = None
    """how many dev queries that test is over."""
    selection_queries: int | None = None
    """how many of those queries chose the inspected checkpoint (RUN/best is the one that read best on the
    spec's dev queries, so on them the gain reads high); 0: none; None in older ablation.json."""
    selection_measure: str | None = None
    """the dev measure that chose it (dev.select_by: the spec's first measure, or e.g. dev_loss)."""
    runs: dict[str, Run] = field(default_factory=dict, compare=False, repr=False)
    """each reranking's run ("zero-shot", "fine-tuned", then each row's name): not in ablation.json,
    `rankscope inspect` writes them as TREC files for `rankscope compare`"""

    @property
    def title(self) -> str:
        """'Adapter ablation', or 'Weight-update ablation' for a full fine-tune."""
        return "Adapter ablation" if self.updates == "adapters" else "Weight-update ablation"

    def share(self, name: str, measure: str | None = None) -> float | None:
        for r in self.rows:
            if r.name == name:
                return r.share[measure or self.primary]
        raise KeyError(name)


def gain_share(ablated: float, zero_shot: float, finetuned: float) -> float | None:
    """(ablated - zero_shot) / (finetuned - zero_shot); None when fine-tuning gained nothing measurable."""
    gain = finetuned - zero_shot
    if abs(gain) < 1e-9:
        return None
    return (ablated - zero_shot) / gain


def gain_test(finetuned: Run, zero_shot: Run, qrels: Qrels, measure: str) -> tuple[float | None, int]:
    """The paired t-test p-value of fine-tuned against zero-shot on `measure` over the judged queries
    (None with fewer than 2), and the number of queries."""
    values = [next(iter(per_query(run, qrels, [measure]).values())) for run in (finetuned, zero_shot)]
    qids = sorted(values[0])
    tuned, zero = (np.array([v.get(q, 0.0) for q in qids], dtype=np.float64) for v in values)
    p = paired_p(tuned, zero) if len(qids) >= 2 else None
    return (None if p is None or math.isnan(p) else p), len(qids)


def score_dev(
    scorer: Scorer,
    candidates: Candidates,
    queries: dict[str, str],
    qrels: Qrels,
    measures: list[str],
    depth: int = 100,
    corpus: dict[str, Document] | None = None,
    pairwise_top: int = 10,
    advance: Callable[[int], None] | None = None,
) -> tuple[dict[str, float], Run]:
    """Rerank and evaluate with the scorer as it is now: the measures and the run (`advance(n)` told of
    each n pairs or comparisons scored)."""
    run: Run
    if isinstance(scorer, PairwiseScorer):
        run = rerank_pairwise(scorer, candidates, queries, pairwise_top, depth, corpus, False, advance)
    else:
        run = rerank(scorer, candidates, queries, depth, corpus, False, advance)
    return evaluate(run, qrels, measures), run


def run_ablation(
    scorer: Scorer,
    candidates: Candidates,
    queries: dict[str, str],
    qrels: Qrels,
    ablations: Sequence[Ablation] | None = None,
    measures: Sequence[str] = ("nDCG@10",),
    depth: int = 100,
    corpus: dict[str, Document] | None = None,
    pairwise_top: int = 10,
    on_ablation: Callable[[int, int], None] | None = None,
    base: nn.Module | None = None,
) -> AblationResult:
    """Zero-shot, fine-tuned and each ablation reranked on the dev set, with the share of the gain left.
    A preset or window that switches off no adapter (share 1) or every adapter (share 0: the run has no
    adapters of the kind it keeps) is skipped and listed in `skipped`; custom ablations always run.
    `on_ablation(done, total)` reports progress in pairs scored (comparisons for a pairwise scorer): once
    at the start, as each batch is scored, and after a skipped ablation; total = (len(ablations) + 2) x
    the pairs of one reranking (the fine-tuned and zero-shot rerankings, then each ablation).
    With `base`, the untrained model of a full fine-tune, the trained layer weights are ablated instead
    of LoRA adapters (`weights_off`)."""
    model = scorer.model  # type: ignore[attr-defined]
    off: Callable[[Layers, tuple[str, ...] | None], contextlib.AbstractContextManager[int]]
    if base is None:
        units = len(lora_layers(model))
        if not units:
            raise InputError("the scorer's model holds no LoRA adapters to ablate")
        off, updates = (lambda ls, cs: lora_off(model, ls, cs)), "adapters"
        zero_shot = partial(base_model_view, model)
    else:
        trained = trained_weights(model, base)
        units = len(trained)
        if not units:
            raise InputError("the fine-tuned layer weights equal the base model's: nothing to ablate")
        off, updates = (lambda ls, cs: weights_off(model, base, ls, cs, trained)), "weight updates"
        zero_shot = partial(weights_off, model, base, None, None, trained)
    ms = list(measures)
    ablations = list(ablations) if ablations is not None else preset_ablations()

    runs: dict[str, Run] = {}
    top = pairwise_top if isinstance(scorer, PairwiseScorer) else None
    per_reranking = scoring_units(candidates, depth, top)
    total = (len(ablations) + 2) * per_reranking
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if on_ablation is not None:
            on_ablation(done, total)

    def dev(name: str) -> dict[str, float]:
        metrics, runs[name] = score_dev(
            scorer, candidates, queries, qrels, ms, depth, corpus, pairwise_top, advance=tick
        )
        return metrics

    tick(0)
    with eval_mode(model):
        finetuned = dev("fine-tuned")
        with zero_shot():
            zero = dev("zero-shot")
        result = AblationResult(
            ms, ms[0], num_layers(model), units, zero, finetuned, updates=updates, runs=runs
        )
        result.gain_p, result.gain_queries = gain_test(runs["fine-tuned"], runs["zero-shot"], qrels, ms[0])
        for ab in ablations:
            with off(ab.off_layers, ab.off_components) as n_off:
                skip = ab.kind != "custom" and n_off in (0, units)
                if skip:
                    unit = "adapter" if base is None else "trained weight"
                    result.skipped[ab.name] = f"switches off no {unit}" if n_off == 0 else f"keeps no {unit}"
                else:
                    metrics = dev(ab.name)
            if skip:
                tick(per_reranking)
                continue
            share = {m: gain_share(metrics[m], zero[m], finetuned[m]) for m in ms}
            off_layers = list(ab.off_layers) if ab.off_layers is not None else None
            off_comps = list(ab.off_components) if ab.off_components is not None else None
            window = list(ab.window) if ab.window else None
            result.rows.append(
                AblationRow(ab.name, ab.kind, off_layers, off_comps, n_off, metrics, share, window)
            )
            log.info("ablation %s: %s (share %s)", ab.name, metrics, share)
    result.windows = _sweep(result, ablations)
    return result


def _sweep(result: AblationResult, ablations: Sequence[Ablation]) -> WindowSweep | None:
    rows = [r for r in result.rows if r.window]
    if not rows:
        return None
    sizes = sorted({r.window[0] for r in rows})  # type: ignore[index]
    starts = sorted({r.window[1] for r in rows})  # type: ignore[index]
    grid: list[list[float | None]] = [[None] * len(starts) for _ in sizes]
    for r in rows:
        size, start = r.window  # type: ignore[misc]
        grid[sizes.index(size)][starts.index(start)] = r.share[result.primary]
    stride = starts[1] - starts[0] if len(starts) > 1 else 1
    mode = "drop" if any(a.name.startswith("drop") for a in ablations if a.kind == "window") else "keep"
    return WindowSweep(mode, stride, sizes, starts, grid)


def _clean(x: object) -> object:
    """NaN/inf -> None, recursively, so the JSON stays standard."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if isinstance(x, np.generic):
        return _clean(x.item())
    return x


def save_ablation(result: AblationResult, path: str | Path) -> Path:
    data = asdict(result)
    data.pop("runs")
    Path(path).write_text(json.dumps(_clean({"version": 1, **data})) + "\n")
    return Path(path)


def run_file_name(name: str) -> str:
    """`ablation-NAME.trec` with NAME made file-safe ("keep 0-2" -> "ablation-keep-0-2.trec")."""
    return "ablation-" + re.sub(r"[^A-Za-z0-9.+-]+", "-", name).strip("-") + ".trec"


def load_ablation(path: str | Path) -> AblationResult:
    d = json.loads(Path(path).read_text())
    d.pop("version", None)
    rows = [AblationRow(**r) for r in d.pop("rows")]
    windows = WindowSweep(**d.pop("windows")) if d.get("windows") else None
    d.pop("windows", None)
    return AblationResult(**d, rows=rows, windows=windows)
