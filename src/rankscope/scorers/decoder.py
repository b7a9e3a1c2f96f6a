"""Zero-shot capable decoder scorers: yes/no logit, query likelihood (UPR) and A-or-B preference."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedTokenizerBase

from rankscope.scorers.base import (
    Pair,
    Scorer,
    decoder_body,
    finish_logits,
    head_logits,
    last_token_hidden,
    length_batches,
    model_device,
    pad_right,
    unwrap,
)
from rankscope.scorers.prompts import (
    PAIRWISE,
    UPR_PROMPT,
    UPR_TARGET,
    YES_NO,
    TokenTemplate,
    answer_token_ids,
)


class _DecoderScorer(Scorer):
    def __init__(
        self,
        model: nn.Module,
        tokenizer: PreTrainedTokenizerBase,
        *,
        max_tokens: int = 8192,
        max_batch: int = 64,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.max_batch = max_batch
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    def set_system_prompt(self, system: str | None) -> bool:
        """Use another system message in the chat-templated prompts (None: the template's own default
        dropped, as built; "@default": kept; "": an empty system turn; see `prompts.chat_text`); False
        where the scorer has no chat prompt (query likelihood)."""
        changed = False
        for attr in ("template", "prompt", "target"):
            template = getattr(self, attr, None)
            if isinstance(template, TokenTemplate) and template.chat:
                setattr(self, attr, template.with_system(system))
                changed = True
        return changed

    def _run(
        self,
        seqs: list[list[int]],
        fn: Callable[[list[int], torch.Tensor, torch.Tensor], torch.Tensor],
        progress: Callable[[int], None] | None,
    ) -> list[float]:
        out = [0.0] * len(seqs)
        device = model_device(self.model)
        with torch.inference_mode():
            for batch in length_batches([len(s) for s in seqs], self.max_tokens, self.max_batch):
                ids, mask = pad_right([seqs[i] for i in batch], self.pad_id, device)
                for i, v in zip(batch, fn(batch, ids, mask).tolist(), strict=True):
                    out[i] = float(v)
                if progress:
                    progress(len(batch))
        return out


class YesNoScorer(_DecoderScorer):
    """Score = logit("yes") - logit("no") for the next token after a relevance question.

    `prefix_cache` (off by default): the template's constant start (chat header, system prompt,
    "Query:") runs once per `score` call and its keys/values are shared by every row of every batch,
    so each pair runs only its own tokens (scores equal within float rounding)."""

    name = "yes-no"

    def __init__(self, model: nn.Module, tokenizer: PreTrainedTokenizerBase, **kw: int) -> None:
        super().__init__(model, tokenizer, **kw)
        self.template = TokenTemplate.build(tokenizer, YES_NO, chat=True)
        self.yes = answer_token_ids(tokenizer, ["yes", "Yes", " yes", " Yes"])
        self.no = answer_token_ids(tokenizer, ["no", "No", " no", " No"])
        self.prefix_cache = False

    def encode(self, pairs: Sequence[Pair]) -> list[list[int]]:
        self.template.prepare(query=[p.query for p in pairs], doc=[p.doc for p in pairs])
        return [self.template.ids(query=p.query, doc=p.doc) for p in pairs]

    def logits(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Relevance logit per row (differentiable: training uses it too)."""
        return self.relevance(last_token_hidden(decoder_body(self.model), ids, mask))

    def relevance(self, last: torch.Tensor) -> torch.Tensor:
        """The score of each row from its last token's final hidden state: log-odds of yes over no."""
        z = head_logits(self.model, last, self.yes + self.no)
        k = len(self.yes)
        return torch.logsumexp(z[:, :k], dim=1) - torch.logsumexp(z[:, k:], dim=1)

    def score(self, pairs: Sequence[Pair], progress: Callable[[int], None] | None = None) -> list[float]:
        seqs = self.encode(pairs)
        prefix = self.template.pieces[0]
        if not self.prefix_cache or not prefix or not seqs:
            return self._run(seqs, lambda _b, ids, mask: self.logits(ids, mask), progress)
        kv = self._prefix_kv(prefix)
        rest = [s[len(prefix) :] for s in seqs]
        return self._run(rest, lambda _b, ids, mask: self._logits_after(kv, ids, mask), progress)

    def _prefix_kv(self, prefix: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Keys and values of every layer for the constant prefix (batch of one), in a plain cache that keeps
        them all: a sliding-window layer's own cache keeps only its window, and the rows that continue the
        prefix then saw fewer keys than positions (Gemma 3 raised a tensor size error)."""
        from transformers import DynamicCache

        with torch.inference_mode():
            ids = torch.tensor([prefix], device=model_device(self.model))
            cache = decoder_body(self.model)(input_ids=ids, use_cache=True, cache=DynamicCache()).cache
        return [(layer.keys, layer.values) for layer in cache.layers]

    def _logits_after(
        self, kv: list[tuple[torch.Tensor, torch.Tensor]], ids: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """Relevance logits of rows that continue the cached prefix (right-padded, as `logits`)."""
        from transformers import DynamicCache

        rows, width, start = ids.shape[0], ids.shape[1], kv[0][0].shape[-2]
        cache = DynamicCache([(k.expand(rows, -1, -1, -1), v.expand(rows, -1, -1, -1)) for k, v in kv])
        full = torch.cat([mask.new_ones(rows, start), mask], dim=1)
        pos = torch.arange(start, start + width, device=ids.device).expand(rows, -1)
        hidden = decoder_body(self.model)(
            input_ids=ids, attention_mask=full, cache=cache, position_ids=pos, use_cache=True
        ).last_hidden_state
        return self.relevance(hidden[torch.arange(rows, device=ids.device), mask.sum(dim=1) - 1])


class QueryLikelihoodScorer(_DecoderScorer):
    """Score = mean log P(query tokens | passage prompt), as UPR; logits only at the query positions."""

    name = "query-likelihood"

    def __init__(self, model: nn.Module, tokenizer: PreTrainedTokenizerBase, **kw: int) -> None:
        super().__init__(model, tokenizer, **kw)
        self.prompt = TokenTemplate.build(tokenizer, UPR_PROMPT, chat=False)
        self.target = TokenTemplate.build(tokenizer, UPR_TARGET, chat=False, add_bos=False)
        self._spans: list[tuple[int, int]] = []

    def encode(self, pairs: Sequence[Pair]) -> tuple[list[list[int]], list[tuple[int, int]]]:
        """Token ids and the (start, end) span of the query tokens in each sequence."""
        self.prompt.prepare(doc=[p.doc for p in pairs])
        self.target.prepare(query=[p.query for p in pairs])
        seqs, spans = [], []
        for p in pairs:
            head = self.prompt.ids(doc=p.doc)
            tail = self.target.ids(query=p.query)
            seqs.append(head + tail)
            spans.append((len(head), len(head) + len(tail)))
        return seqs, spans

    def token_logprobs(
        self, ids: torch.Tensor, mask: torch.Tensor, spans: list[tuple[int, int]]
    ) -> torch.Tensor:
        """Mean log-probability of each row's target span (differentiable)."""
        hidden = decoder_body(self.model)(input_ids=ids, attention_mask=mask).last_hidden_state
        return self._span_logprobs(hidden, ids, spans)

    def _span_logprobs(
        self, hidden: torch.Tensor, ids: torch.Tensor, spans: list[tuple[int, int]]
    ) -> torch.Tensor:
        """Mean log-probability of each span's tokens, with vocabulary logits only at those positions."""
        rows = torch.cat([torch.full((e - s,), r, dtype=torch.long) for r, (s, e) in enumerate(spans)])
        pos = torch.cat([torch.arange(s, e) for s, e in spans])
        rows, pos = rows.to(ids.device), pos.to(ids.device)
        logits = finish_logits(
            self.model, unwrap(self.model).get_output_embeddings()(hidden[rows, pos - 1]).float()
        )
        lp = -F.cross_entropy(logits, ids[rows, pos], reduction="none")
        sums = torch.zeros(len(spans), device=ids.device).index_add_(0, rows, lp)
        counts = torch.tensor([e - s for s, e in spans], device=ids.device, dtype=sums.dtype)
        return sums / counts

    def score(self, pairs: Sequence[Pair], progress: Callable[[int], None] | None = None) -> list[float]:
        seqs, spans = self.encode(pairs)
        return self._run(
            seqs, lambda b, ids, mask: self.token_logprobs(ids, mask, [spans[i] for i in b]), progress
        )


class PairwiseScorer(_DecoderScorer):
    """P(A beats B) from logit("A") - logit("B") after a "Document A or B?" prompt."""

    name = "pairwise"

    def __init__(self, model: nn.Module, tokenizer: PreTrainedTokenizerBase, **kw: int) -> None:
        super().__init__(model, tokenizer, **kw)
        self.template = TokenTemplate.build(tokenizer, PAIRWISE, chat=True, max_doc_tokens=160)
        self.a = answer_token_ids(tokenizer, ["A", " A"])
        self.b = answer_token_ids(tokenizer, ["B", " B"])

    def encode(self, triples: Sequence[tuple[str, str, str]]) -> list[list[int]]:
        self.template.prepare(
            query=[t[0] for t in triples], doc=[t[1] for t in triples], doc_b=[t[2] for t in triples]
        )
        return [self.template.ids(query=q, doc=a, doc_b=b) for q, a, b in triples]

    def logits(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        hidden = last_token_hidden(decoder_body(self.model), ids, mask)
        z = head_logits(self.model, hidden, self.a + self.b)
        k = len(self.a)
        return torch.logsumexp(z[:, :k], dim=1) - torch.logsumexp(z[:, k:], dim=1)

    def prefer(
        self, triples: Sequence[tuple[str, str, str]], progress: Callable[[int], None] | None = None
    ) -> list[float]:
        """P(first document more relevant than second) for each (query, a, b)."""
        z = self._run(self.encode(triples), lambda _b, ids, mask: self.logits(ids, mask), progress)
        return torch.sigmoid(torch.tensor(z, dtype=torch.float64)).tolist()  # float32 is 1.0 from z = 17

    def score(self, pairs: Sequence[Pair], progress: Callable[[int], None] | None = None) -> list[float]:
        raise NotImplementedError("the pairwise scorer ranks lists: use rerank_pairwise")
