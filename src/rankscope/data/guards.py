"""Evaluation-leak guards, in one place: which datasets share an id space, how texts are compared, the
evaluation sets' judged passages and queries (`EvalGuard`, for synthetic data), and the checks that no
evaluation query reaches training (`check_no_leak`, `drop_eval_queries`).

Ids are compared only within one id space (small numeric ids of unrelated collections coincide by
chance); texts are compared everywhere, normalised by `normalise_query`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rankscope.data.types import Collection, Document
from rankscope.errors import InputError

if TYPE_CHECKING:
    from rankscope.data.examples import Group

DOC_ID_SPACES: dict[str, str] = {
    "dl19": "msmarco",
    "dl20": "msmarco",
    "msmarco-dev-small": "msmarco",
    "msmarco-dev600-train": "msmarco",
    "msmarco-dev600-dev": "msmarco",
    "dl21": "msmarco-v2",
    "dl22": "msmarco-v2",
    "msmarco-rlhn-25q": "text",
}
"""Datasets whose document ids name the same passages: MS MARCO v1 passage ids, MS MARCO v2 passage ids
(msmarco_passage_NN_...), ids made from the text itself (`text_id`). Any other dataset is its own space,
named by its first dash-separated word (SciFact's splits share one)."""

QUERY_ID_SPACES: dict[str, str] = {
    "dl19": "msmarco",
    "dl20": "msmarco",
    "dl21": "msmarco",
    "dl22": "msmarco",
    "msmarco-dev-small": "msmarco",
    "msmarco-dev600-train": "msmarco",
    "msmarco-dev600-dev": "msmarco",
    "msmarco-rlhn-25q": "rlhn",
}
"""Datasets whose query ids name the same queries: the MS MARCO / TREC DL query ids; RLHN's are hashes."""


def doc_id_space(dataset: str) -> str:
    """The document id space of a registered dataset (see DOC_ID_SPACES)."""
    return DOC_ID_SPACES.get(dataset, dataset.split("-")[0])


def query_id_space(dataset: str) -> str:
    """The query id space of a registered dataset (see QUERY_ID_SPACES)."""
    return QUERY_ID_SPACES.get(dataset, dataset.split("-")[0])


id_space = doc_id_space
"""The name synth has always used: passages are what the evaluation guard compares by id."""


def normalise_query(text: str) -> str:
    """Lower case, letters and digits only (accents folded: "naïve" is "naive"; any script's letters
    kept), single spaces: how queries (and passages) are compared."""
    folded = "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))
    return " ".join(re.sub(r"[\W_]+", " ", folded).split())


def text_keys(doc: Document) -> set[str]:
    """The normalised texts a passage is recognised by: its text, and its title with its text."""
    return {normalise_query(doc.text), normalise_query(doc.full_text)}


# --------------------------------------------------------------------------- evaluation guard


@dataclass
class EvalGuard:
    """What the evaluation sets forbid: their judged passages (by id per id space, and by text) and
    their query texts (only compared against, never shown to the model)."""

    judged_ids: dict[str, set[str]] = field(default_factory=dict)
    """id space -> document ids judged in some evaluation set of that space."""
    judged_texts: set[str] = field(default_factory=set)
    """normalised texts of the judged passages that have text (corpus or candidate lists)."""
    queries: set[str] = field(default_factory=set)
    """normalised evaluation query texts."""

    @classmethod
    def from_collections(cls, colls: Iterable[Collection]) -> EvalGuard:
        from rankscope.data.registry import collection_candidates

        guard = cls()
        for coll in colls:
            judged = {d for docs in (coll.qrels or {}).values() for d in docs}
            guard.judged_ids.setdefault(doc_id_space(coll.name), set()).update(judged)
            if coll.corpus:
                for d in judged:
                    if d in coll.corpus:
                        guard.judged_texts.update(text_keys(coll.corpus[d]))
            for name in coll.candidates:
                for hits in collection_candidates(coll, name).hits.values():
                    guard.judged_texts.update(
                        normalise_query(h.text) for h in hits if h.doc_id in judged and h.text
                    )
            guard.queries.update(normalise_query(t) for t in coll.queries.values())
        guard.judged_texts.discard("")
        return guard

    def is_judged(self, doc: Document, space: str | None) -> bool:
        """True when `doc` is judged in an evaluation set: same id in the same id space (any space when
        `space` is None, as for a corpus file), or the same text."""
        if space is None:
            if any(doc.doc_id in ids for ids in self.judged_ids.values()):
                return True
        elif doc.doc_id in self.judged_ids.get(space, set()):
            return True
        return any(k in self.judged_texts for k in text_keys(doc))


def parse_eval_sets(value: str | Sequence[str]) -> list[str]:
    """Registered dataset names from "a,b" or a list, deduplicated; InputError for an unknown one."""
    from rankscope.data.registry import DATASETS

    names = [n.strip() for n in value.split(",")] if isinstance(value, str) else list(value)
    names = [n for n in dict.fromkeys(names) if n]
    for n in names:
        if n not in DATASETS:
            raise InputError(f"unknown dataset {n!r}: expected one of {', '.join(DATASETS)}", "--eval-sets")
    return names


def load_eval_guard(names: Sequence[str]) -> EvalGuard:
    """The guard of the registered evaluation sets `names`."""
    from rankscope.data.registry import load_named

    return EvalGuard.from_collections(load_named(n) for n in names)


# --------------------------------------------------------------------------- training queries


def check_no_leak(
    train_queries: Mapping[str, str] | Iterable[str],
    eval_collection: Collection,
    compare_ids: bool = True,
) -> None:
    """Raise InputError when any evaluation query is in the training data, by id or by normalised text.

    `train_queries` is query id -> text, or plain query texts. Ids are only compared when the two share
    an id space (`compare_ids`): small numeric ids of unrelated collections coincide by chance."""
    if isinstance(train_queries, Mapping):
        ids, texts = set(train_queries), {normalise_query(t) for t in train_queries.values()}
    else:
        ids, texts = set(), {normalise_query(t) for t in train_queries}
    for qid, text in eval_collection.queries.items():
        if compare_ids and qid in ids:
            raise InputError(
                f"evaluation query '{qid}' of {eval_collection.name} is in the training data (same id)"
            )
        if (key := normalise_query(text)) and key in texts:  # an empty text is no match
            raise InputError(
                f"evaluation query '{qid}' of {eval_collection.name} ('{text}') is in the training data"
            )


def drop_eval_queries(
    groups: Sequence[Group], eval_collection: Collection, compare_ids: bool = True, max_share: float = 0.1
) -> tuple[list[Group], int]:
    """Groups without the queries an evaluation set also holds (SciFact repeats 2 test claims in train).

    More than `max_share` of the training queries overlapping means training on the evaluation set
    itself (CISI holds all 35 ADI queries): that is refused, not quietly dropped. Returns (kept, dropped)."""
    ev_ids = set(eval_collection.queries) if compare_ids else set()
    ev_texts = {normalise_query(t) for t in eval_collection.queries.values()}
    ev_texts.discard("")
    bad = {g.key for g in groups if g.qid in ev_ids or normalise_query(g.query) in ev_texts}
    n_queries = len({g.key for g in groups})
    if bad and len(bad) > max_share * n_queries:
        source = groups[0].source or "the training data"
        raise InputError(
            f"{len(bad)} of the {n_queries} training queries of {source} are queries of the evaluation set "
            f"{eval_collection.name}: train on other data or drop it from eval_sets"
        )
    return [g for g in groups if g.key not in bad], len(bad)
