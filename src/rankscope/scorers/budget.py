"""How much of the documents a scorer reads: the share cut at its document token budget.

A run trained at a short budget (e.g. 128 document tokens on MS MARCO passages) reads a collection of
longer documents (SciFact abstracts: median 310 MiniLM tokens) at that budget unless `--max-doc-tokens`
says otherwise, while a zero-shot scorer reads them at its own default: the comparison then measures the
budget as much as the model. `rerank` reports the share, so the difference shows before it misleads."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rankscope.scorers.base import Scorer

SPECIAL_TOKENS = {"bi-encoder": 2, "cross-encoder": 3}
"""[CLS] and [SEP] around an encoded text ([CLS] q [SEP] d [SEP] for a cross-encoder): what a
`max_length` spends besides the document."""


@dataclass(frozen=True)
class DocsCut:
    """Of `docs` distinct documents, `cut` are longer than `budget` tokens; `median_tokens` is their
    median length. A cross-encoder's budget is shared with the query: `budget` is then an upper bound."""

    budget: int
    docs: int
    cut: int
    median_tokens: float
    shared_with_query: bool = False

    @property
    def share(self) -> float:
        return self.cut / self.docs if self.docs else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "budget": self.budget,
            "docs": self.docs,
            "cut": self.cut,
            "share": round(self.share, 4),
            "median_tokens": self.median_tokens,
        }

    def message(self) -> str:
        bound = "at most " if self.shared_with_query else ""
        return (
            f"documents cut at the document budget ({bound}{self.budget} tokens): {self.cut:,} of "
            f"{self.docs:,} ({self.share:.0%}; median length {self.median_tokens:.0f} tokens); "
            "--max-doc-tokens N reads more of them"
        )


def doc_budget(scorer: Scorer) -> tuple[int, Any, bool] | None:
    """(tokens of a document the scorer reads, its tokenizer, whether the query shares them), or None for a
    scorer without a known budget."""
    for attr in ("template", "prompt"):  # decoder scorers: the document slot of their prompt
        template = getattr(scorer, attr, None)
        if template is not None and "doc" in getattr(template, "max_tokens", {}):
            return template.max_tokens["doc"], template.tokenizer, False
    length, tokenizer = getattr(scorer, "max_length", None), getattr(scorer, "tokenizer", None)
    if isinstance(length, int) and tokenizer is not None:
        special = SPECIAL_TOKENS.get(scorer.name, 2)
        return length - special, tokenizer, scorer.name == "cross-encoder"
    return None


CUT_NOTICE = 0.05
"""`rerank` says how many documents the document budget cut when at least this share were."""


class CutCounter:
    """Counts the documents a scorer's budget cuts as they come, chunk by chunk (`rerank --stream`):
    each distinct text once, holding only a hash and a length per text."""

    def __init__(self, scorer: Scorer) -> None:
        self.found = doc_budget(scorer)
        self.seen: set[int] = set()
        self.lengths: list[int] = []

    def add(self, texts: Iterable[str]) -> None:
        if self.found is None:
            return
        new = [t for t in dict.fromkeys(texts) if hash(t) not in self.seen]
        if not new:
            return
        ids = self.found[1](new, add_special_tokens=False, verbose=False)["input_ids"]
        self.lengths += [len(i) for i in ids]
        self.seen.update(hash(t) for t in new)

    def result(self) -> DocsCut | None:
        """None: no budget known, or no texts."""
        if self.found is None or not self.lengths:
            return None
        budget, _, shared = self.found
        cut = sum(n > budget for n in self.lengths)
        return DocsCut(budget, len(self.lengths), cut, float(statistics.median(self.lengths)), shared)


def documents_cut(scorer: Scorer, texts: Iterable[str]) -> DocsCut | None:
    """How many of the distinct `texts` are longer than the scorer's document budget (None: no budget
    known, or no texts)."""
    counter = CutCounter(scorer)
    counter.add(texts)
    return counter.result()


def cut_notice(cut: DocsCut | None) -> str | None:
    """The line `rerank` prints when the budget cut at least CUT_NOTICE of the documents."""
    return cut.message() if cut is not None and cut.share >= CUT_NOTICE else None
