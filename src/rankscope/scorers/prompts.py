"""Prompt templates, tokenised once: literal pieces are encoded a single time and each pair is
assembled from cached token ids, so no per-pair string formatting or re-tokenising of the template."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from transformers import PreTrainedTokenizerBase

from rankscope.fields import KEEP_DEFAULT_SYSTEM

YES_NO = "Query: {query}\nPassage: {doc}\nIs the passage relevant to the query? Answer with yes or no."
UPR_PROMPT = "Passage: {doc}\nPlease write a question based on this passage.\nQuestion:"
UPR_TARGET = " {query}"
PAIRWISE = (
    "Query: {query}\nDocument A: {doc}\nDocument B: {doc_b}\n"
    "Which document is more relevant to the query? Answer with A or B."
)
_SLOT = re.compile(r"\{(query|doc_b|doc)\}")
_MARK = "\x00rankscope-system\x00"


def chat_text(tokenizer: PreTrainedTokenizerBase, text: str, system: str | None = None) -> str:
    """`text` as the user turn of the tokenizer's chat template, ready for the assistant's answer.

    `system`: None drops a default system prompt the template would add on its own (an empty system turn
    takes its place: measured on MS MARCO dev queries, SmolLM2's default "You are a helpful AI assistant
    named SmolLM..." costs 16 tokens a pair and ranks worse, docs/results.md); `KEEP_DEFAULT_SYSTEM`
    ("@default") keeps it; any other string is the system message."""
    user = [{"role": "user", "content": text}]

    def render(messages: list[dict[str, str]]) -> str:
        out = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return str(out)

    if system == KEEP_DEFAULT_SYSTEM:
        return render(user)
    if system is not None:
        return render([{"role": "system", "content": system}, *user])
    plain = render(user)
    try:
        marked = render([{"role": "system", "content": _MARK}, *user])
    except Exception:  # a template that refuses a system turn adds no default one either
        return plain
    if _MARK not in marked:
        return plain
    before, after = marked.split(_MARK, 1)
    # the plain rendering is the marked one with the template's default text where the mark was
    if len(plain) > len(before) + len(after) and plain.startswith(before) and plain.endswith(after):
        return before + after
    return plain


CACHE_TEXTS = 8192
"""texts whose token ids a template keeps between calls (a query's text repeats over its candidates)."""


@dataclass
class TokenTemplate:
    """A template split into literal token pieces and slots ("query", "doc", "doc_b")."""

    pieces: list[list[int]]
    slots: list[str]
    tokenizer: PreTrainedTokenizerBase
    max_tokens: dict[str, int]
    lead: dict[str, str]
    """slot -> " " where the template had a space before it: the space is tokenised with the slot text,
    as it would be in the whole string ("Query: how" gives " how", not " " + "how")."""
    text: str = ""
    """the template before the chat template was applied (what `with_system` rebuilds from)."""
    chat: bool = False
    add_bos: bool = True
    system: str | None = None
    _cache: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        tokenizer: PreTrainedTokenizerBase,
        text: str,
        *,
        chat: bool,
        max_query_tokens: int = 64,
        max_doc_tokens: int = 192,
        add_bos: bool = True,
        system: str | None = None,
    ) -> TokenTemplate:
        """`system` (chat templates only, see `chat_text`): None drops the template's own default system
        prompt, "@default" keeps it, any other string is the system message ("" an empty one)."""
        source, bos_asked = text, add_bos
        if chat and getattr(tokenizer, "chat_template", None):
            text = chat_text(tokenizer, text, system)
            add_bos = False  # the chat template carries its own start tokens
        parts = _SLOT.split(text)
        literals, slots = parts[0::2], parts[1::2]
        lead = {}
        for i, slot in enumerate(slots):
            lead[slot] = " " if literals[i].endswith(" ") else ""
            literals[i] = literals[i][:-1] if lead[slot] else literals[i]
        pieces = [tokenizer.encode(p, add_special_tokens=False) if p else [] for p in literals]
        bos = tokenizer.bos_token_id
        if add_bos and bos is not None and (not pieces[0] or pieces[0][0] != bos):
            pieces[0] = [bos, *pieces[0]]
        limits = {"query": max_query_tokens, "doc": max_doc_tokens, "doc_b": max_doc_tokens}
        return cls(pieces, slots, tokenizer, limits, lead, source, chat, bos_asked, system)

    def with_system(self, system: str | None) -> TokenTemplate:
        """The same template with another system message (see `build`), token budgets kept."""
        out = TokenTemplate.build(
            self.tokenizer, self.text, chat=self.chat, add_bos=self.add_bos, system=system
        )
        out.max_tokens.update(self.max_tokens)
        return out

    @property
    def literal_tokens(self) -> int:
        """Tokens of the template's literal pieces (what every pair carries besides its texts)."""
        return sum(len(p) for p in self.pieces)

    def prepare(self, **texts: list[str]) -> None:
        """Tokenise unseen slot texts (slot name -> texts) in one batched call and cache them. The cache
        is emptied first when it would pass CACHE_TEXTS, so that memory does not grow with the collection
        (a streamed rerank, a long-lived Reranker); the texts of this call are always cached."""
        keys = list(dict.fromkeys(self.lead[slot] + t for slot, values in texts.items() for t in values))
        new = [k for k in keys if k not in self._cache]
        if new and len(self._cache) + len(new) > CACHE_TEXTS:
            self._cache.clear()
            new = keys
        if new:
            for k, ids in zip(new, self.tokenizer(new, add_special_tokens=False)["input_ids"], strict=True):
                self._cache[k] = ids

    def ids(self, **values: str) -> list[int]:
        """Token ids of the template with its slots filled (each slot truncated to its budget)."""
        out = list(self.pieces[0])
        for slot, piece in zip(self.slots, self.pieces[1:], strict=True):
            key = self.lead[slot] + values[slot]
            if key not in self._cache:
                self.prepare(**{slot: [values[slot]]})
            out += self._cache[key][: self.max_tokens[slot]]
            out += piece
        return out


def answer_token_ids(tokenizer: PreTrainedTokenizerBase, words: list[str]) -> list[int]:
    """First token id of each spelling of an answer word ("yes", "Yes", " yes"), de-duplicated."""
    ids: list[int] = []
    for w in words:
        enc = tokenizer.encode(w, add_special_tokens=False)
        if enc and enc[0] not in ids:
            ids.append(enc[0])
    return ids
