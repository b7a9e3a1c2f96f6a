"""Attention routing between query and document tokens, per layer and head, before vs after fine-tuning.

The pass runs with eager attention (set for the pass and restored after) and forward hooks on each
block's attention module that reduce the weights (batch, heads, T, T) to masses at once, so no full
attention maps are kept. Measures, each averaged over pairs:

- doc_to_query: mean over document tokens of the attention they pay to all query tokens
- query_to_doc: mean over query tokens of the attention they pay to all document tokens
- last_to_query / last_to_doc: the scoring position's (last token, or [CLS]) attention to each span

In a causal model tokens see only earlier ones, so one of the first two is 0 by the prompt's order.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from rankscope.errors import InputError
from rankscope.inspect.views import Item, base_model_view, check_inspectable, eval_mode
from rankscope.models.components import layer_list
from rankscope.scorers.base import Scorer, decoder_body, model_device, pad_right, unwrap
from rankscope.scorers.decoder import QueryLikelihoodScorer
from rankscope.scorers.encoder import CrossEncoderScorer
from rankscope.scorers.prompts import TokenTemplate

ATTENTION_FILE = "attention.json"
MEASURES = ("doc_to_query", "query_to_doc", "last_to_query", "last_to_doc")


@contextlib.contextmanager
def eager_attention(model: nn.Module) -> Iterator[None]:
    """Eager attention (which returns weights) for the block, and `config.output_attentions` on for models
    whose attention returns its weights only when asked (DeBERTa, MPNet: those without transformers'
    output recording, which would install hooks of its own when asked); both come back after."""
    inner = unwrap(model)
    old = inner.config._attn_implementation
    ask = not getattr(inner, "_can_record_outputs", None)
    asked = getattr(inner.config, "output_attentions", False)
    if old != "eager":
        inner.set_attn_implementation("eager")
    if ask:
        inner.config.output_attentions = True
    try:
        yield
    finally:
        if ask:
            inner.config.output_attentions = asked
        if old != "eager":
            inner.set_attn_implementation(old)


def attention_modules(model: nn.Module) -> list[nn.Module]:
    """Per block, its outermost submodule whose class name ends in 'Attention' (not cross-attention)."""
    found = []
    for i, block in enumerate(layer_list(model)):
        hits = [
            (name, m)
            for name, m in block.named_modules()
            if name and type(m).__name__.endswith("Attention") and "Cross" not in type(m).__name__
        ]
        if not hits:
            raise InputError(f"cannot find the attention module of layer {i} ({type(block).__name__})")
        found.append(min(hits, key=lambda nm: nm[0].count("."))[1])
    return found


def _weights(output: object, width: int) -> torch.Tensor | None:
    items = output if isinstance(output, tuple) else (output,)
    for t in items:
        if isinstance(t, torch.Tensor) and t.dim() == 4 and t.shape[-1] == t.shape[-2] == width:
            return t
    return None


@contextlib.contextmanager
def attention_hooks(
    model: nn.Module, width: Callable[[], int], sink: Callable[[int, torch.Tensor], None]
) -> Iterator[None]:
    """Forward hooks that pass (layer, attention weights) to `sink`; always removed, even after an error."""
    handles = []

    def hook(layer: int) -> Callable[..., None]:
        def fn(_module: nn.Module, _inputs: object, output: object) -> None:
            w = _weights(output, width())
            if w is None:
                raise InputError(f"layer {layer} returned no attention weights (eager attention needed)")
            sink(layer, w)

        return fn

    try:
        for i, module in enumerate(attention_modules(model)):
            handles.append(module.register_forward_hook(hook(i)))
        yield
    finally:
        for h in handles:
            h.remove()


@dataclass
class Spans:
    """Token positions of one sequence: query span, document spans, the scoring position."""

    query: tuple[int, int]
    docs: list[tuple[int, int]]
    last: int


def template_spans(template: TokenTemplate, **values: str) -> tuple[list[int], dict[str, tuple[int, int]]]:
    """The template's token ids with slots filled (as `template.ids`) and each slot's (start, end)."""
    template.prepare(**{k: [v] for k, v in values.items()})
    out = list(template.pieces[0])
    spans: dict[str, tuple[int, int]] = {}
    for slot, piece in zip(template.slots, template.pieces[1:], strict=True):
        toks = template._cache[template.lead[slot] + values[slot]][: template.max_tokens[slot]]
        spans[slot] = (len(out), len(out) + len(toks))
        out += toks
        out += piece
    return out, spans


def sequence_spans(scorer: Scorer, item: Item) -> tuple[list[int], Spans]:
    """The ids the scorer would score for `item` and where its query and document tokens are."""
    if isinstance(scorer, QueryLikelihoodScorer):
        head, hs = template_spans(scorer.prompt, doc=item.doc)  # type: ignore[union-attr]
        tail, ts = template_spans(scorer.target, query=item.query)  # type: ignore[union-attr]
        q = (len(head) + ts["query"][0], len(head) + ts["query"][1])
        ids = head + tail
        return ids, Spans(q, [hs["doc"]], len(ids) - 1)
    template = getattr(scorer, "template", None)
    if not isinstance(template, TokenTemplate):
        raise InputError(f"scorer '{scorer.name}' has no token template for attention spans")
    if isinstance(item, tuple):
        ids, sp = template_spans(template, query=item[0], doc=item[1], doc_b=item[2])
        return ids, Spans(sp["query"], [sp["doc"], sp["doc_b"]], len(ids) - 1)
    ids, sp = template_spans(template, query=item.query, doc=item.doc)
    return ids, Spans(sp["query"], [sp["doc"]], len(ids) - 1)


def _encoder_batch(scorer: CrossEncoderScorer, items: Sequence[Item]) -> tuple[dict, list[Spans]]:
    """The scorer's own tokenisation (`CrossEncoderScorer.tokenize`: a long query is cut with the document,
    where cutting only the document raised) and each row's query and document spans."""
    enc, seqs = scorer.tokenize_parts(items, return_tensors="pt")  # type: ignore[arg-type]
    spans = []
    for seq in seqs:
        q = [j for j, s in enumerate(seq) if s == 0]
        d = [j for j, s in enumerate(seq) if s == 1]
        spans.append(Spans((q[0], q[-1] + 1), [(d[0], d[-1] + 1)] if d else [], 0))
    return dict(enc), spans


def _masks(spans: list[Spans], width: int, device: torch.device) -> tuple[torch.Tensor, ...]:
    q = torch.zeros(len(spans), width)
    d = torch.zeros(len(spans), width)
    for r, s in enumerate(spans):
        q[r, s.query[0] : s.query[1]] = 1
        for a, b in s.docs:
            d[r, a:b] = 1
    last = torch.tensor([s.last for s in spans], dtype=torch.long)
    return q.to(device), d.to(device), last.to(device)


class _Accumulator:
    """Sums of each measure per (layer, head) over pairs, and the pair counts."""

    def __init__(self) -> None:
        self.sums: dict[str, dict[int, torch.Tensor]] = {m: {} for m in MEASURES}
        self.counts: dict[str, dict[int, torch.Tensor]] = {m: {} for m in MEASURES}
        self.q = self.d = self.last = torch.zeros(0)

    def add(self, layer: int, w: torch.Tensor) -> None:
        with torch.autocast(w.device.type, enabled=False):  # sums in float32 even under bf16 autocast
            self._add(layer, w.float())

    def _add(self, layer: int, w: torch.Tensor) -> None:
        rows = torch.arange(w.shape[0], device=w.device)
        to_q = torch.einsum("bhij,bj->bhi", w, self.q)
        to_d = torch.einsum("bhij,bj->bhi", w, self.d)
        nq, nd = self.q.sum(1), self.d.sum(1)
        values = {
            "doc_to_query": (torch.einsum("bhi,bi->bh", to_q, self.d) / nd.clamp(min=1)[:, None], nd > 0),
            "query_to_doc": (torch.einsum("bhi,bi->bh", to_d, self.q) / nq.clamp(min=1)[:, None], nq > 0),
            "last_to_query": (to_q[rows, :, self.last], nq > 0),
            "last_to_doc": (to_d[rows, :, self.last], nd > 0),
        }
        for m, (v, ok) in values.items():
            s = (v * ok[:, None]).sum(0).detach()
            self.sums[m][layer] = self.sums[m].get(layer, 0) + s
            self.counts[m][layer] = self.counts[m].get(layer, 0) + ok.sum()

    def result(self, n_layers: int) -> dict[str, np.ndarray]:
        out = {}
        for m in MEASURES:
            rows = [
                (self.sums[m][ly] / self.counts[m][ly].clamp(min=1)).float().cpu().numpy()
                for ly in range(n_layers)
            ]
            out[m] = np.stack(rows).astype(np.float32)
        return out


def attention_mass(scorer: Scorer, items: Sequence[Item], batch_size: int = 8) -> dict[str, np.ndarray]:
    """measure -> (layers, heads) attention mass averaged over `items`, with the model as it is now."""
    check_inspectable(scorer)
    model = scorer.model  # type: ignore[attr-defined]
    device = model_device(model)
    acc = _Accumulator()
    width = {"T": 0}
    n_layers = len(layer_list(model))
    hooks = attention_hooks(model, lambda: width["T"], acc.add)
    with eval_mode(model), eager_attention(model), torch.inference_mode(), hooks:
        for i in range(0, len(items), batch_size):
            batch = items[i : i + batch_size]
            if isinstance(scorer, CrossEncoderScorer):
                enc, spans = _encoder_batch(scorer, batch)
                enc = {k: v.to(device) for k, v in enc.items()}
                width["T"] = enc["input_ids"].shape[1]
                acc.q, acc.d, acc.last = _masks(spans, width["T"], device)
                model(**enc)
            else:
                built = [sequence_spans(scorer, it) for it in batch]
                ids, mask = pad_right([b[0] for b in built], getattr(scorer, "pad_id", 0), device)
                width["T"] = ids.shape[1]
                acc.q, acc.d, acc.last = _masks([b[1] for b in built], width["T"], device)
                decoder_body(model)(input_ids=ids, attention_mask=mask)
    return acc.result(n_layers)


@dataclass
class AttentionResult:
    """measure -> (layers, heads) before (adapters off) and after (adapters on) fine-tuning."""

    before: dict[str, np.ndarray]
    after: dict[str, np.ndarray] | None
    n_pairs: int

    @property
    def change(self) -> dict[str, np.ndarray] | None:
        if self.after is None:
            return None
        return {m: self.after[m] - self.before[m] for m in self.before}


def attention_study(
    scorer: Scorer, items: Sequence[Item], base_scorer: Scorer | None = None, batch_size: int = 8
) -> AttentionResult:
    """Attention masses of the base model (adapters off, or `base_scorer`) and of the fine-tuned one.
    A model with no adapters and no `base_scorer` gives only `before`."""
    model = scorer.model  # type: ignore[attr-defined]
    if base_scorer is not None:
        before = attention_mass(base_scorer, items, batch_size)
        return AttentionResult(before, attention_mass(scorer, items, batch_size), len(items))
    if hasattr(model, "disable_adapter"):
        with base_model_view(model):
            before = attention_mass(scorer, items, batch_size)
        return AttentionResult(before, attention_mass(scorer, items, batch_size), len(items))
    return AttentionResult(attention_mass(scorer, items, batch_size), None, len(items))


def save_attention(result: AttentionResult, path: str | Path) -> Path:
    def enc(d: dict[str, np.ndarray] | None) -> dict | None:
        return {m: np.round(v.astype(np.float64), 6).tolist() for m, v in d.items()} if d else None

    data = {"version": 1, "n_pairs": result.n_pairs, "before": enc(result.before), "after": enc(result.after)}
    Path(path).write_text(json.dumps(data) + "\n")
    return Path(path)


def load_attention(path: str | Path) -> AttentionResult:
    d = json.loads(Path(path).read_text())

    def dec(x: dict | None) -> dict[str, np.ndarray] | None:
        return {m: np.asarray(v, dtype=np.float32) for m, v in x.items()} if x else None

    before = dec(d["before"])
    assert before is not None
    return AttentionResult(before, dec(d["after"]), int(d["n_pairs"]))
