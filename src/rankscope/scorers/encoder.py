"""Encoder scorers: bi-encoder cosine (MiniLM baseline) and a cross-encoder with a linear head."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedTokenizerBase

from rankscope.models.loading import hidden_size
from rankscope.scorers.base import Pair, Scorer, float32_linear, length_batches, model_device


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Unit-length mean of `hidden` (batch, tokens, dim) over each row's real tokens (`mask`)."""
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return F.normalize((hidden * m).sum(-2) / m.sum(-2), dim=-1)


class BiEncoderScorer(Scorer):
    """Cosine similarity of mean-pooled embeddings of query and passage, each encoded once."""

    name = "bi-encoder"
    joint_attention = False

    def __init__(
        self, model: nn.Module, tokenizer: PreTrainedTokenizerBase, max_length: int = 256, batch: int = 64
    ) -> None:
        self.model, self.tokenizer, self.max_length, self.batch = model, tokenizer, max_length, batch

    def tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        return dict(
            self.tokenizer(
                texts,
                padding=True,
                padding_side="right",  # absolute positions count from the first token
                truncation=True,
                max_length=self.max_length,
                return_tensors="pt",
            )
        )

    def pooled(self, enc: dict[str, torch.Tensor]) -> torch.Tensor:
        """Unit-length mean-pooled embeddings of a tokenised batch (differentiable: training uses it)."""
        return mean_pool(self.model(**enc).last_hidden_state, enc["attention_mask"]).float()

    def embed(self, texts: list[str], progress: Callable[[int], None] | None = None) -> torch.Tensor:
        """Unit-length embeddings of `texts` (in order), batched longest first so that batches of similar
        length are padded little; `progress(n)` after each batch with the texts it embedded."""
        if not texts:
            return torch.empty(0, 0)
        enc = self.tokenizer(texts, truncation=True, max_length=self.max_length)
        order = sorted(range(len(texts)), key=lambda i: -len(enc["input_ids"][i]))
        device = model_device(self.model)
        parts: list[torch.Tensor] = []
        with torch.inference_mode():
            for i in range(0, len(order), self.batch):
                rows = order[i : i + self.batch]
                feats = self.tokenizer.pad(
                    {k: [v[r] for r in rows] for k, v in enc.items()},
                    padding_side="right",
                    return_tensors="pt",
                )
                parts.append(self.pooled({k: t.to(device) for k, t in feats.items()}))
                if progress:
                    progress(len(rows))
        emb = torch.cat(parts)
        return emb.new_empty(emb.shape).index_copy_(0, torch.tensor(order, device=emb.device), emb)

    def score(self, pairs: Sequence[Pair], progress: Callable[[int], None] | None = None) -> list[float]:
        texts = list(dict.fromkeys([p.query for p in pairs] + [p.doc for p in pairs]))
        index = {t: i for i, t in enumerate(texts)}
        emb = self.embed(texts)
        q = emb[[index[p.query] for p in pairs]]
        d = emb[[index[p.doc] for p in pairs]]
        if progress:
            progress(len(pairs))
        return (q * d).sum(-1).tolist()


class CrossEncoderHead(nn.Module):
    """A linear relevance head on an encoder's [CLS] state (trained by the training command)."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.linear = nn.Linear(hidden_size, 1)

    def forward(self, cls_state: torch.Tensor) -> torch.Tensor:
        return float32_linear(self.linear, cls_state)  # bf16 encoder, fp32 head


class CrossEncoderScorer(Scorer):
    """Query and passage encoded together; score = linear head on [CLS]."""

    name = "cross-encoder"

    def __init__(
        self,
        model: nn.Module,
        tokenizer: PreTrainedTokenizerBase,
        head: CrossEncoderHead | None = None,
        max_length: int = 256,
        max_tokens: int = 8192,
    ) -> None:
        self.model, self.tokenizer, self.max_length, self.max_tokens = (
            model,
            tokenizer,
            max_length,
            max_tokens,
        )
        self.head = head or CrossEncoderHead(hidden_size(model)).to(model_device(model))

    def logits(self, enc: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.head(self.model(**enc).last_hidden_state[:, 0])

    def tokenize(self, pairs: Sequence[Pair], return_tensors: str | None = None) -> Any:
        """[CLS] query [SEP] document [SEP] cut to `max_length` by cutting the document; a query that leaves
        no room for the document is cut with it, from the longer text first (cutting only the document
        failed there). With `return_tensors`, padded on the right."""
        return self.tokenize_parts(pairs, return_tensors)[0]

    def tokenize_parts(
        self, pairs: Sequence[Pair], return_tensors: str | None = None
    ) -> tuple[Any, list[list[int | None]]]:
        """`tokenize`'s encoding, and each row's sequence ids (0: query token, 1: document token, None: a
        special token) as `BatchEncoding.sequence_ids` gives them: where inspection finds the query and the
        document."""
        queries, docs = [p.query for p in pairs], [p.doc for p in pairs]
        room = self.max_length - 4  # [CLS] [SEP] [SEP] and one document token
        fits = [len(q) <= room for q in self.tokenizer(queries, add_special_tokens=False)["input_ids"]]
        enc: dict[str, list[Any]] = {}
        seqs: list[list[int | None]] = [[] for _ in pairs]
        for keep, truncation in ((True, "only_second"), (False, "longest_first")):
            rows = [i for i, f in enumerate(fits) if f == keep]
            if not rows:
                continue
            part = self.tokenizer(
                [queries[i] for i in rows],
                [docs[i] for i in rows],
                truncation=truncation,
                max_length=self.max_length,
            )
            for k, values in part.items():
                column = enc.setdefault(k, [None] * len(pairs))
                for i, v in zip(rows, values, strict=True):
                    column[i] = v
            for j, i in enumerate(rows):
                seqs[i] = part.sequence_ids(j)
        if return_tensors is not None:
            enc = self.tokenizer.pad(enc, padding_side="right", return_tensors=return_tensors)
        return enc, seqs

    def score(self, pairs: Sequence[Pair], progress: Callable[[int], None] | None = None) -> list[float]:
        if not pairs:
            return []
        enc = self.tokenize(pairs)
        lengths = [len(x) for x in enc["input_ids"]]
        out = [0.0] * len(pairs)
        device = model_device(self.model)
        with torch.inference_mode():
            for batch in length_batches(lengths, self.max_tokens, 128):
                feats = self.tokenizer.pad(
                    {k: [enc[k][i] for i in batch] for k in enc}, padding_side="right", return_tensors="pt"
                ).to(device)
                for i, v in zip(batch, self.logits(feats).tolist(), strict=True):
                    out[i] = float(v)
                if progress:
                    progress(len(batch))
        return out
