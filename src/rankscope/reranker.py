"""`Reranker`: the one object notebooks and the CLI score with, zero-shot or fine-tuned.

from rankscope import Reranker
r = Reranker.load("smollm2-135m", scorer="query-likelihood")
r.score("what is a flea", ["Fleas are insects.", "Paris is in France."])
r.rerank("what is a flea", docs, top_k=10)      # [Ranked(index, score), ...] best first
r.rerank_run(candidates)                         # {qid: {docid: score}} for whole candidate files
Reranker.from_run("runs/my-lora")                # a trained run (its best or final adapter)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from rankscope.data.types import Candidates, Document, Hit
from rankscope.errors import InputError
from rankscope.evaluate.metrics import Run
from rankscope.evaluate.rerank import rerank, rerank_pairwise
from rankscope.scorers.base import Pair, Scorer
from rankscope.scorers.decoder import PairwiseScorer


@dataclass(frozen=True)
class Ranked:
    """One document of a reranked list: its index in the input and its score."""

    index: int
    score: float


class Reranker:
    """A scorer with the model under it, and what it is (model name, scorer name, trained run)."""

    def __init__(self, scorer: Scorer, model: str, scorer_name: str, run: Path | None = None) -> None:
        self.scorer = scorer
        self.model_name = model
        self.scorer_name = scorer_name
        self.run = run
        self.pairwise_top = 20

    def __repr__(self) -> str:
        trained = f", run={str(self.run)!r}" if self.run else ""
        return f"Reranker(model={self.model_name!r}, scorer={self.scorer_name!r}{trained})"

    @classmethod
    def load(
        cls,
        model: str | Path,
        scorer: str | None = None,
        device: str = "auto",
        dtype: str = "auto",
        trust_remote_code: bool = False,
        max_query_tokens: int | None = None,
        max_doc_tokens: int | None = None,
        backend: str = "torch",
        system_prompt: str | None = None,
    ) -> Reranker:
        """A zero-shot reranker: `model` is an alias (smollm2-135m, ...), a model folder, a Hub id
        (org/name, from the local Hub cache or the Hub when online) or a .gguf file. `backend="llama.cpp"`
        scores a .gguf file (e.g. `rankscope export --format gguf`'s) with llama.cpp (llama-cpp-python,
        an optional extra; yes-no and query-likelihood): the torch model only makes the token ids.
        `system_prompt` is the system message of chat prompts (yes-no, linear-head, pairwise): None (the
        default) drops the chat template's own default one, "@default" keeps it, "" is an empty one.
        An exported folder (`rankscope export`) loads with its own budgets and system prompt where these
        are None, and so does a .gguf file written into one (`--format gguf`) for the scorer it was
        exported with. `scorer` None (the default) is an exported folder's or .gguf file's own scorer,
        and query likelihood for any other model."""
        from rankscope.models.loading import load_backbone
        from rankscope.runtime import pick_device, pick_dtype
        from rankscope.scorers.registry import build_for_backbone, check_budgets, get_scorer
        from rankscope.trained import EXPORT_INFO, export_settings, exported_scorer

        scorer = scorer or exported_scorer(model) or "query-likelihood"
        beside = Path(str(model)).parent / EXPORT_INFO
        if str(model).endswith(".gguf") and beside.is_file():  # the run's prompt and budgets, as parity used
            info = json.loads(beside.read_text())
            if info.get("scorer") == scorer:
                settings = export_settings(info, max_query_tokens, max_doc_tokens, system_prompt)
                max_query_tokens, max_doc_tokens, system_prompt = settings
        budgets = dict(max_query_tokens=max_query_tokens, max_doc_tokens=max_doc_tokens)
        check_budgets(**budgets)  # before loading the model
        if backend not in ("torch", "llama.cpp"):
            raise InputError(f"unknown backend '{backend}': expected torch or llama.cpp", "--backend")
        if backend == "llama.cpp":
            from rankscope.llamacpp import require

            if not str(model).endswith(".gguf"):
                raise InputError(f"the llama.cpp backend scores a .gguf file, not {model}", "--backend")
            require()  # before loading the model
        entry = get_scorer(scorer)
        if (Path(str(model)) / EXPORT_INFO).is_file():
            exported = cls.from_export(
                model,
                device,
                dtype,
                **budgets,
                system_prompt=system_prompt,
                trust_remote_code=trust_remote_code,
            )
            if exported.scorer_name != scorer:
                msg = f"{model} is an export of a '{exported.scorer_name}' reranker, not '{scorer}'"
                raise InputError(msg, "--scorer")
            return exported
        if not entry.zero_shot:
            raise InputError(
                f"scorer '{scorer}' scores with a trained head, and a zero-shot model has none (its scores "
                "would be random): train one and rerank with --run, or give an exported folder as --model",
                "--scorer",
            )
        kind = entry.kind
        dev = pick_device(device)
        bb = load_backbone(
            model, kind=kind, dtype=pick_dtype(dtype, dev), device=dev, trust_remote_code=trust_remote_code
        )
        sc = build_for_backbone(scorer, bb, system_prompt=system_prompt, **budgets)
        if backend == "llama.cpp":
            from rankscope.llamacpp import LlamaCppScorer

            sc = LlamaCppScorer(model, sc)
        return cls(sc, str(model), scorer)

    @classmethod
    def from_run(
        cls,
        run_dir: str | Path,
        checkpoint: str | int | Path | None = None,
        device: str = "auto",
        dtype: str = "auto",
        max_query_tokens: int | None = None,
        max_doc_tokens: int | None = None,
        merge: bool = False,
    ) -> Reranker:
        """The fine-tuned reranker of a training run: its best checkpoint, or `checkpoint` ("final",
        "best", a step, a checkpoint name under RUN/checkpoints, or a folder). The token budgets are
        the run's own unless given (e.g. documents longer than the run trained on). `merge` writes LoRA
        adapters into the weights first: faster, and in bf16 the scores move a little (load_run_scorer)."""
        from rankscope.runtime import pick_device, pick_dtype
        from rankscope.trained import load_run_scorer

        dev = pick_device(device)
        adapter = None if checkpoint is None else str(checkpoint)
        budgets = dict(max_query_tokens=max_query_tokens, max_doc_tokens=max_doc_tokens)
        dt = pick_dtype(dtype, dev)
        sc, spec = load_run_scorer(run_dir, adapter, device=dev, dtype=dt, merge=merge, **budgets)
        return cls(sc, spec.model, spec.scorer, Path(run_dir))

    @classmethod
    def from_export(
        cls,
        folder: str | Path,
        device: str = "auto",
        dtype: str = "auto",
        max_query_tokens: int | None = None,
        max_doc_tokens: int | None = None,
        system_prompt: str | None = None,
        trust_remote_code: bool = False,
    ) -> Reranker:
        """A reranker written by `rankscope export` (a merged model folder with rankscope.json): its
        trained head, token budgets and system prompt, the budgets and prompt replaced where given (a model
        with its own code needs `trust_remote_code`, as its run did)."""
        from rankscope.runtime import pick_device, pick_dtype
        from rankscope.scorers.registry import check_budgets
        from rankscope.trained import load_exported_scorer

        check_budgets(max_query_tokens=max_query_tokens, max_doc_tokens=max_doc_tokens)
        dev = pick_device(device)
        sc = load_exported_scorer(
            folder,
            dev,
            pick_dtype(dtype, dev),
            max_query_tokens,
            max_doc_tokens,
            system_prompt,
            trust_remote_code,
        )
        return cls(sc, str(folder), sc.name)

    def score(self, query: str, docs: Sequence[str]) -> list[float]:
        """One score per document, in input order (higher is more relevant)."""
        docs = _check(query, docs)
        if isinstance(self.scorer, PairwiseScorer):
            run = self._pairwise(query, docs)
            return [run[str(i)] for i in range(len(docs))]
        return self.scorer.score([Pair(query, d) for d in docs])

    def rerank(self, query: str, docs: Sequence[str], top_k: int | None = None) -> list[Ranked]:
        """The documents' indices and scores, best first (ties keep the input order); `top_k` cuts."""
        if top_k is not None and top_k < 1:
            raise InputError(f"top_k must be at least 1 (or None: all), got {top_k}", "top_k")
        docs = _check(query, docs)
        scores = self.score(query, docs)
        order = sorted(range(len(docs)), key=lambda i: (-scores[i], i))
        return [Ranked(i, scores[i]) for i in order[:top_k]]

    def rerank_run(
        self,
        candidates: Candidates | str | Path,
        queries: Mapping[str, str] | None = None,
        depth: int = 100,
        corpus: Mapping[str, Document] | None = None,
        progress: bool = True,
    ) -> Run:
        """Score the top `depth` candidates of every query (a Candidates object or a candidates
        jsonl(.gz) file); text comes from the hits or `corpus`, query text from the file or `queries`."""
        if depth < 1:
            raise InputError(f"depth must be at least 1, got {depth}", "depth")
        if not isinstance(candidates, Candidates):
            from rankscope.data.readers import read_candidates

            candidates = read_candidates(candidates)
        texts = {**candidates.queries, **(queries or {})}
        docs = dict(corpus) if corpus is not None else None
        if isinstance(self.scorer, PairwiseScorer):
            return rerank_pairwise(self.scorer, candidates, texts, self.pairwise_top, depth, docs, progress)
        return rerank(self.scorer, candidates, texts, depth, docs, progress)

    def _pairwise(self, query: str, docs: Sequence[str]) -> dict[str, float]:
        hits = [Hit(str(i), float(len(docs) - i), d) for i, d in enumerate(docs)]
        cands = Candidates({"q": hits}, {"q": query})
        assert isinstance(self.scorer, PairwiseScorer)
        top = max(self.pairwise_top, len(docs))
        return rerank_pairwise(self.scorer, cands, {"q": query}, top, len(docs), None, False)["q"]


def _check(query: str, docs: Iterable[str]) -> list[str]:
    """`docs` as a list (a generator is read once, here), after refusing an empty query or document."""
    if isinstance(docs, str):
        raise InputError("docs must be a list of strings, not one string", "docs")
    docs = list(docs)
    if not query or not query.strip():
        raise InputError("the query is empty", "query")
    empty = [i for i, d in enumerate(docs) if not isinstance(d, str) or not d.strip()]
    if empty:
        raise InputError(f"document {empty[0]} is empty or not a string", "docs")
    return docs
