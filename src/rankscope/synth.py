"""Synthetic training queries (InPars / Promptagator style).

Passages are sampled from a corpus, a causal LM writes a search query for each from a few-shot prompt, and
a zero-shot scorer keeps a query only when it ranks the query's source passage first among BM25 negatives
from the same corpus. The result is a FlagEmbedding jsonl (``{"query", "pos", "neg"}``) that training
reads through ``train.files``.

Evaluation sets are kept out: a passage judged in an evaluation set's qrels is never sampled as a source
nor used as a negative (matched by id within the same id space, and by text everywhere), evaluation queries
are never shown to the model, and a generated query equal to an evaluation query is dropped.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from rankscope.data import trainfile
from rankscope.data.guards import EvalGuard as EvalGuard  # the guards live in data/; re-exported here
from rankscope.data.guards import id_space, load_eval_guard, normalise_query, parse_eval_sets, text_keys
from rankscope.data.registry import DATASETS, load_dataset, read_corpus_file
from rankscope.data.types import Document
from rankscope.errors import InputError
from rankscope.progress import progress_bar
from rankscope.retrieve.bm25 import bm25_retrieve
from rankscope.scorers.base import Pair, Scorer, length_batches

DEFAULT_EVAL_SETS = ("dl19", "scifact-test")
FILTER_SCORERS = ("query-likelihood", "yes-no")
INSTRUCTION = "Write a short search query that the passage below answers.\n\nPassage: {doc}"

# Hand-written for rankscope (not taken from any dataset): generic passage -> search query pairs.
FEW_SHOT: tuple[tuple[str, str], ...] = (
    (
        "Cast iron pans should be dried straight after washing and wiped with a thin layer of oil while "
        "still warm. The oil polymerises in the heat and forms a hard coating that keeps the pan from "
        "rusting and stops food from sticking.",
        "how to stop a cast iron pan from rusting",
    ),
    (
        "Glacial lakes form when a retreating glacier leaves behind a basin carved into the bedrock, or when "
        "a ridge of rock debris called a moraine dams its meltwater. Many lakes in the northern Alps formed "
        "this way at the end of the last ice age.",
        "how are glacial lakes formed",
    ),
    (
        "The transistor amplifies a weak signal applied to its base: a small base current controls a much "
        "larger current between collector and emitter. The ratio of the two currents, the gain, is "
        "typically between 50 and 300 for small signal transistors.",
        "typical current gain of a small signal transistor",
    ),
)


# --------------------------------------------------------------------------- passages


def load_corpus(
    dataset: str | None, corpus: str | Path | None
) -> tuple[dict[str, Document], str | None, str]:
    """(corpus, id space or None for a file, label) from a registered dataset or a corpus file."""
    if (dataset is None) == (corpus is None):
        raise InputError("give exactly one of --dataset and --corpus", "--dataset")
    if dataset is not None:
        if dataset not in DATASETS:
            raise InputError(
                f"unknown dataset {dataset!r}: expected one of {', '.join(DATASETS)}", "--dataset"
            )
        docs = load_dataset(dataset).corpus
        if not docs:
            raise InputError(
                f"dataset '{dataset}' has no corpus to generate from (give --corpus)", "--dataset"
            )
        return docs, id_space(dataset), dataset
    assert corpus is not None
    return read_corpus_file(corpus), None, str(corpus)


def sample_passages(
    corpus: Mapping[str, Document],
    n: int,
    seed: int = 0,
    guard: EvalGuard | None = None,
    space: str | None = None,
    min_words: int = 8,
) -> tuple[list[Document], int]:
    """A seeded sample of up to `n` passages that no evaluation set judges (and with at least
    `min_words` words); returns (sample, number of passages excluded as judged)."""
    allowed, excluded = [], 0
    for did in sorted(corpus):
        doc = corpus[did]
        if guard is not None and guard.is_judged(doc, space):
            excluded += 1
        elif len(doc.full_text.split()) >= min_words:
            allowed.append(doc)
    rng = random.Random(f"synth:{seed}")
    return rng.sample(allowed, min(n, len(allowed))), excluded


# --------------------------------------------------------------------------- generation


def _truncate(tokenizer, text: str, max_tokens: int) -> str:
    ids = tokenizer.encode(text, add_special_tokens=False)
    return text if len(ids) <= max_tokens else tokenizer.decode(ids[:max_tokens]).strip()


def build_prompt(tokenizer, passage: str, max_doc_tokens: int = 192) -> list[int]:
    """Token ids of the few-shot prompt for `passage`: chat turns when the tokenizer has a chat
    template, else plain "Passage: ... / Query: ..." blocks."""
    doc = _truncate(tokenizer, passage, max_doc_tokens)
    if getattr(tokenizer, "chat_template", None):
        messages = []
        for ex_doc, ex_query in FEW_SHOT:
            messages.append({"role": "user", "content": INSTRUCTION.format(doc=ex_doc)})
            messages.append({"role": "assistant", "content": ex_query})
        messages.append({"role": "user", "content": INSTRUCTION.format(doc=doc)})
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return tokenizer.encode(text, add_special_tokens=False)  # the template carries its start tokens
    blocks = [f"Passage: {d}\nQuery: {q}\n\n" for d, q in FEW_SHOT]
    text = "".join(blocks) + f"Passage: {doc}\nQuery:"
    ids = tokenizer.encode(text, add_special_tokens=False)
    bos = tokenizer.bos_token_id
    return [bos, *ids] if bos is not None else ids


def _stop_ids(model: nn.Module, tokenizer) -> list[int]:
    ids: list[int] = []
    cfg_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for v in (tokenizer.eos_token_id, *(cfg_eos if isinstance(cfg_eos, list) else [cfg_eos])):
        if v is not None and int(v) not in ids:
            ids.append(int(v))
    return ids


def generate_queries(
    model: nn.Module,
    tokenizer,
    prompts: Sequence[list[int]],
    *,
    max_new_tokens: int = 32,
    batch_size: int = 8,
    temperature: float = 0.0,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> list[str]:
    """The raw text each prompt continues with (greedy, or sampled with a seed when temperature > 0).

    Prompts are batched by length and left-padded for generation only; a row stops at end of sequence or
    at the first newline after some text."""
    from transformers import GenerationConfig, StoppingCriteria, StoppingCriteriaList

    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    stop = _stop_ids(model, tokenizer)
    kw: dict[str, object] = {"do_sample": temperature > 0}
    if temperature > 0:
        kw.update(temperature=temperature, top_p=0.95, top_k=0)
    config = GenerationConfig(
        max_new_tokens=max_new_tokens, pad_token_id=pad_id, eos_token_id=stop or None, **kw
    )

    class NewlineStop(StoppingCriteria):
        def __init__(self, start: int) -> None:
            self.start = start

        def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **_: object) -> torch.Tensor:
            texts = tokenizer.batch_decode(input_ids[:, self.start :], skip_special_tokens=True)
            done = ["\n" in t.lstrip() for t in texts]
            return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    device = next(model.parameters()).device
    out = [""] * len(prompts)
    batches = list(length_batches([len(p) for p in prompts], max_tokens=1 << 30, max_batch=batch_size))
    with torch.inference_mode(), torch.random.fork_rng(devices=[]):
        for b, batch in enumerate(batches):
            width = max(len(prompts[i]) for i in batch)
            ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, i in enumerate(batch):
                p = prompts[i]
                ids[row, width - len(p) :] = torch.tensor(p, dtype=torch.long)
                mask[row, width - len(p) :] = 1
            torch.manual_seed(seed * 100_003 + b)
            gen = model.generate(
                input_ids=ids.to(device),
                attention_mask=mask.to(device),
                generation_config=config,
                stopping_criteria=StoppingCriteriaList([NewlineStop(width)]),
            )
            texts = tokenizer.batch_decode(gen[:, width:], skip_special_tokens=True)
            for i, t in zip(batch, texts, strict=True):
                out[i] = t
            if progress:
                progress(len(batch))
    return out


_PREFIXES = ("search query:", "query:", "question:", "q:")


def clean_query(raw: str, passage: str, min_words: int = 2, min_chars: int = 6) -> tuple[str | None, str]:
    """(cleaned query, "ok") or (None, reason): the first non-empty line without a "Query:" style prefix
    or quotes; dropped when empty, too short, or a copy of the passage (equal to it, or a verbatim span of
    eight words or more)."""
    lines = [ln.strip() for ln in raw.strip().splitlines() if ln.strip()]
    if not lines:
        return None, "empty"
    q = lines[0]
    for prefix in _PREFIXES:
        if q.lower().startswith(prefix):
            q = q[len(prefix) :].strip()
    q = " ".join(q.strip("\"'`*- ").split())
    norm = normalise_query(q)
    if not norm:
        return None, "empty"
    if len(q) < min_chars or len(norm.split()) < min_words:
        return None, "too_short"
    doc = normalise_query(passage)
    if norm == doc or (len(norm.split()) >= 8 and f" {norm} " in f" {doc} "):
        return None, "copy"
    return q, "ok"


# --------------------------------------------------------------------------- filtering


@dataclass(frozen=True)
class Candidate:
    """A generated query with its source passage and the BM25 negatives it is checked against."""

    query: str
    source: Document
    negatives: tuple[str, ...]


def bm25_negatives(
    corpus: Mapping[str, Document], items: Sequence[tuple[str, Document]], n: int
) -> list[tuple[str, ...]]:
    """For each (query, source): the top `n` BM25 passages of `corpus` other than the source (by id and by
    text)."""
    if not items or n <= 0:
        return [() for _ in items]
    queries = {str(i): q for i, (q, _) in enumerate(items)}
    cands = bm25_retrieve(dict(corpus), queries, k=n + 5)
    out = []
    for i, (_, src) in enumerate(items):
        keys = text_keys(src)
        negs: list[str] = []
        for h in cands.hits.get(str(i), []):
            doc = corpus[h.doc_id]
            if h.doc_id == src.doc_id or text_keys(doc) & keys or doc.full_text in negs:
                continue
            negs.append(doc.full_text)
            if len(negs) == n:
                break
        out.append(tuple(negs))
    return out


def source_ranks(
    scorer: Scorer, cands: Sequence[Candidate], progress: Callable[[int], None] | None = None
) -> list[int]:
    """Rank (from 1) of each candidate's source among source + negatives under `scorer`; a negative
    scoring equal to the source counts as above it."""
    pairs: list[Pair] = []
    for c in cands:
        pairs.append(Pair(c.query, c.source.full_text))
        pairs += [Pair(c.query, t) for t in c.negatives]
    scores = scorer.score(pairs, progress) if pairs else []
    ranks, pos = [], 0
    for c in cands:
        src = scores[pos]
        negs = scores[pos + 1 : pos + 1 + len(c.negatives)]
        ranks.append(1 + sum(1 for s in negs if s >= src))
        pos += 1 + len(c.negatives)
    return ranks


def keep_by_rank(cands: Sequence[Candidate], ranks: Sequence[int], keep_top: int = 1) -> list[Candidate]:
    return [c for c, r in zip(cands, ranks, strict=True) if r <= keep_top]


# --------------------------------------------------------------------------- the whole run


@dataclass
class SynthResult:
    rows: list[dict[str, object]]
    stats: dict[str, object]


def synthesize(
    corpus: Mapping[str, Document],
    model: nn.Module,
    tokenizer,
    scorer: Scorer,
    *,
    passages: int,
    guard: EvalGuard | None = None,
    space: str | None = None,
    negatives: int = 15,
    keep_top: int = 1,
    seed: int = 0,
    max_new_tokens: int = 32,
    batch_size: int = 8,
    temperature: float = 0.0,
    max_doc_tokens: int = 192,
    show_progress: bool = True,
) -> SynthResult:
    """Sample passages, generate a query for each, clean, and keep the queries whose source the scorer
    ranks within `keep_top` among BM25 negatives. Rows are FlagEmbedding dicts."""
    start = time.perf_counter()
    sample, excluded = sample_passages(corpus, passages, seed, guard, space)
    if not sample:
        raise InputError("no passage left to generate from (all judged in an evaluation set, or too short)")
    prompts = [build_prompt(tokenizer, d.full_text, max_doc_tokens) for d in sample]
    with progress_bar("generating queries", len(prompts), show_progress) as advance:
        raw = generate_queries(
            model,
            tokenizer,
            prompts,
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
            temperature=temperature,
            seed=seed,
            progress=advance,
        )
    t_gen = time.perf_counter() - start
    dropped: dict[str, int] = {}
    items: list[tuple[str, Document]] = []
    seen: set[str] = set()
    for doc, text in zip(sample, raw, strict=True):
        q, reason = clean_query(text, doc.full_text)
        if q is not None and normalise_query(q) in seen:
            q, reason = None, "duplicate"
        if q is not None and guard is not None and normalise_query(q) in guard.queries:
            q, reason = None, "eval_query"
        if q is None:
            dropped[reason] = dropped.get(reason, 0) + 1
            continue
        seen.add(normalise_query(q))
        items.append((q, doc))
    # Negatives come from the corpus without the evaluation-judged passages: those never reach training.
    pool = {d: doc for d, doc in corpus.items() if guard is None or not guard.is_judged(doc, space)}
    negs = bm25_negatives(pool, items, negatives)
    cands = []
    for (q, doc), n in zip(items, negs, strict=True):
        if not n:  # nothing to rank the source against: the filter could not judge the query
            dropped["no_negatives"] = dropped.get("no_negatives", 0) + 1
            continue
        cands.append(Candidate(q, doc, n))
    t_filter = time.perf_counter()
    total_pairs = sum(1 + len(c.negatives) for c in cands)
    with progress_bar(f"filtering ({scorer.name})", total_pairs, show_progress) as advance:
        ranks = source_ranks(scorer, cands, advance)
    kept = keep_by_rank(cands, ranks, keep_top)
    t_end = time.perf_counter()
    rows: list[dict[str, object]] = [
        {"query": c.query, "pos": [c.source.full_text], "neg": list(c.negatives)} for c in kept
    ]
    stats: dict[str, object] = {
        "passages_sampled": len(sample),
        "passages_excluded_as_judged": excluded,
        "generated": len(sample),
        "valid": len(cands),
        "dropped": dropped,
        "kept": len(kept),
        "keep_rate": len(kept) / len(sample),
        "keep_rate_of_valid": len(kept) / len(cands) if cands else 0.0,
        "source_rank_histogram": {str(r): ranks.count(r) for r in sorted(set(ranks))},
        "mean_negatives": sum(len(c.negatives) for c in kept) / len(kept) if kept else 0.0,
        "seconds": {
            "generation": round(t_gen, 2),
            "filtering": round(t_end - t_filter, 2),
            "total": round(t_end - start, 2),
        },
        "examples": [{"query": c.query, "source_id": c.source.doc_id} for c in kept[:5]],
        "rejected_examples": [
            {"query": c.query, "source_id": c.source.doc_id, "source_rank": r}
            for c, r in zip(cands, ranks, strict=True)
            if r > keep_top
        ][:5],
    }
    return SynthResult(rows, stats)


# --------------------------------------------------------------------------- output


def stats_path(out: str | Path) -> Path:
    """Where the stats of `out` go: ``NAME.synth.json`` beside ``NAME.jsonl[.gz]``."""
    return trainfile.stats_path(out, "synth")


def check_output(out: str | Path, overwrite: bool, inputs: Sequence[str | Path | None] = ()) -> None:
    trainfile.check_output(out, overwrite, "synth", inputs)


def write_output(
    result: SynthResult, out: str | Path, overwrite: bool = False, inputs: Sequence[str | Path | None] = ()
) -> Path:
    """Write the rows to `out` and the stats beside it, each to a temporary file renamed into place."""
    return trainfile.write_rows(result.rows, result.stats, out, "synth", overwrite, inputs)


def run_synth(
    out: str | Path,
    model: str,
    *,
    dataset: str | None = None,
    corpus: str | Path | None = None,
    passages: int = 100,
    negatives: int = 15,
    filter_scorer: str = "query-likelihood",
    keep_top: int = 1,
    seed: int = 0,
    device: str = "auto",
    dtype: str = "auto",
    eval_sets: str | Sequence[str] = DEFAULT_EVAL_SETS,
    max_new_tokens: int = 32,
    batch_size: int = 8,
    temperature: float = 0.0,
    overwrite: bool = False,
    show_progress: bool = True,
) -> SynthResult:
    """Everything `rankscope synth` does: check the input, load, synthesize, write atomically."""
    from rankscope.models.loading import load_backbone
    from rankscope.runtime import pick_device, pick_dtype
    from rankscope.scorers.registry import build_for_backbone

    check_output(out, overwrite, [corpus])  # --overwrite never replaces the corpus being read
    if filter_scorer not in FILTER_SCORERS:
        raise InputError(
            f"unknown filter scorer '{filter_scorer}': expected one of {', '.join(FILTER_SCORERS)}",
            "--filter-scorer",
        )
    for name, value, low in (
        ("--passages", passages, 1),
        ("--negatives", negatives, 0),
        ("--keep-top", keep_top, 1),
    ):
        if value < low:
            raise InputError(f"must be at least {low}, got {value}", name)
    if max_new_tokens < 1 or batch_size < 1 or temperature < 0:
        raise InputError("--max-new-tokens and --batch-size must be positive, --temperature not negative")
    names = parse_eval_sets(eval_sets)
    docs, space, label = load_corpus(dataset, corpus)
    guard = load_eval_guard(names)
    dev = pick_device(device)
    backbone = load_backbone(model, kind="causal", dtype=pick_dtype(dtype, dev), device=dev)
    scorer = build_for_backbone(filter_scorer, backbone)
    result = synthesize(
        docs,
        backbone.model,
        backbone.tokenizer,
        scorer,
        passages=passages,
        guard=guard,
        space=space,
        negatives=negatives,
        keep_top=keep_top,
        seed=seed,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        temperature=temperature,
        show_progress=show_progress,
    )
    result.stats = {
        "command": "synth",
        "source": label,
        "model": model,
        "filter_scorer": filter_scorer,
        "passages": passages,
        "negatives": negatives,
        "keep_top": keep_top,
        "seed": seed,
        "temperature": temperature,
        "max_new_tokens": max_new_tokens,
        "dtype": str(pick_dtype(dtype, dev)).removeprefix("torch."),
        "eval_sets": names,
        **result.stats,
    }
    if not result.rows:
        dropped = result.stats["dropped"]
        msg = f"no generated query was kept (dropped: {dropped}; the filter kept none of the rest)"
        raise InputError(msg + ": nothing written", out)
    write_output(result, out, overwrite, [corpus])
    return result
