"""Q-PEFT: query-dependent soft prompts in front of a frozen LLM, scored by log P(q | d, prompts).

- `qpeft-r`: each document token is scored by its best cosine similarity to a query token (input
  embeddings); the top-k document tokens, through a trainable residual MLP, become the soft prompts.
- `qpeft-a`: a trainable multi-head attention layer replaces that selection: k learned prompt seeds,
  shifted by the pooled query embedding, attend over all document token embeddings.
Prompt values are built from document tokens only, so the query being scored never enters them directly.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import PreTrainedTokenizerBase

from rankscope.scorers.base import Pair, decoder_body, pad_right, unwrap
from rankscope.scorers.decoder import QueryLikelihoodScorer

Variant = Literal["qpeft-r", "qpeft-a"]


class TopKPrompt(nn.Module):
    """Q-PEFT-R: the k document tokens most similar to the query, mapped to soft prompts."""

    def __init__(self, hidden: int, k: int = 8) -> None:
        super().__init__()
        self.k = k
        self.mlp = nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, hidden))
        nn.init.zeros_(self.mlp[2].weight)
        nn.init.zeros_(self.mlp[2].bias)

    def forward(
        self, q: torch.Tensor, q_mask: torch.Tensor, d: torch.Tensor, d_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """k soft prompts and their mask: a document of fewer than k tokens fills the rest with masked
        prompts, so that every document gets k whatever the batch's width (padding is never a prompt)."""
        if d.shape[1] < self.k:  # pad the batch to k tokens
            d = F.pad(d, (0, 0, 0, self.k - d.shape[1]))
            d_mask = F.pad(d_mask, (0, self.k - d_mask.shape[1]))
        sim = F.normalize(q.float(), dim=-1) @ F.normalize(d.float(), dim=-1).transpose(1, 2)  # (B, Lq, Ld)
        sim = sim.masked_fill(~q_mask.bool()[:, :, None], -2.0).amax(dim=1)  # best query token per doc token
        sim = sim.masked_fill(~d_mask.bool(), -3.0)
        # the k most similar, ties (a repeated token) to the earliest; topk broke them by the batch's width
        idx = torch.sort(sim, dim=1, descending=True, stable=True).indices[:, : self.k].sort(dim=1).values
        picked = d.gather(1, idx[:, :, None].expand(-1, -1, d.shape[-1]))
        return picked + self.mlp(picked.to(self.mlp[0].weight.dtype)).to(picked.dtype), d_mask.gather(1, idx)


class AttentionPrompt(nn.Module):
    """Q-PEFT-A: k query-conditioned seeds attend over all document tokens with multi-head attention."""

    def __init__(self, hidden: int, k: int = 8, heads: int = 4) -> None:
        super().__init__()
        self.seeds = nn.Parameter(torch.randn(k, hidden) * 0.02)
        self.cond = nn.Linear(hidden, hidden)
        self.attn = nn.MultiheadAttention(hidden, heads, batch_first=True)

    def forward(
        self, q: torch.Tensor, q_mask: torch.Tensor, d: torch.Tensor, d_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """k soft prompts, all of them real (the mask is ones)."""
        dtype = self.seeds.dtype
        m = q_mask[:, :, None].to(dtype)
        pooled = (q.to(dtype) * m).sum(1) / m.sum(1).clamp(min=1)
        seeds = self.seeds[None] + self.cond(pooled)[:, None]
        out, _ = self.attn(
            seeds, d.to(dtype), d.to(dtype), key_padding_mask=~d_mask.bool(), need_weights=False
        )
        return out.to(d.dtype), torch.ones(out.shape[:2], dtype=d_mask.dtype, device=out.device)


PROMPTERS: dict[str, type[nn.Module]] = {"qpeft-r": TopKPrompt, "qpeft-a": AttentionPrompt}


def build_prompter(variant: str, hidden: int, k: int = 8, heads: int = 4) -> nn.Module:
    if variant == "qpeft-a":
        return AttentionPrompt(hidden, k, heads)
    return TopKPrompt(hidden, k)


class QPeftScorer(QueryLikelihoodScorer):
    """Query likelihood with Q-PEFT soft prompts inserted after the first token; the LLM stays frozen."""

    def __init__(
        self,
        model: nn.Module,
        tokenizer: PreTrainedTokenizerBase,
        prompter: nn.Module,
        variant: str,
        **kw: int,
    ) -> None:
        super().__init__(model, tokenizer, **kw)
        self.prompter = prompter
        self.variant = variant
        self.name = variant
        for p in model.parameters():
            p.requires_grad_(False)

    def prompts(
        self, queries: list[str], docs: list[str], device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The soft prompts of each (query, document) and their mask (batch, k)."""
        emb = unwrap(self.model).get_input_embeddings()
        self.target.prepare(query=queries)
        self.prompt.prepare(doc=docs)
        q_ids = [
            self.target._cache[self.target.lead["query"] + q][: self.target.max_tokens["query"]]
            for q in queries
        ]
        d_ids = [
            self.prompt._cache[self.prompt.lead["doc"] + d][: self.prompt.max_tokens["doc"]] for d in docs
        ]
        q_ids_t, q_mask = pad_right(q_ids, self.pad_id, device)
        d_ids_t, d_mask = pad_right(d_ids, self.pad_id, device)
        return self.prompter(emb(q_ids_t), q_mask, emb(d_ids_t), d_mask)

    def token_logprobs_for(
        self, pairs: Sequence[Pair], ids: torch.Tensor, mask: torch.Tensor, spans: list[tuple[int, int]]
    ) -> torch.Tensor:
        """Mean log P(query | soft prompts, passage) per row (differentiable in the prompter only)."""
        emb = unwrap(self.model).get_input_embeddings()
        soft, soft_mask = self.prompts([p.query for p in pairs], [p.doc for p in pairs], ids.device)
        k = soft.shape[1]
        x = emb(ids)
        x = torch.cat([x[:, :1], soft.to(x.dtype), x[:, 1:]], dim=1)
        full_mask = torch.cat([mask[:, :1], soft_mask.to(mask.dtype), mask[:, 1:]], dim=1)
        hidden = decoder_body(self.model)(inputs_embeds=x, attention_mask=full_mask).last_hidden_state
        hidden = torch.cat([hidden[:, :1], hidden[:, 1 + k :]], dim=1)  # back to token positions
        return self._span_logprobs(hidden, ids, spans)

    def score(self, pairs: Sequence[Pair], progress: Callable[[int], None] | None = None) -> list[float]:
        seqs, spans = self.encode(pairs)
        pairs = list(pairs)
        return self._run(
            seqs,
            lambda b, ids, mask: self.token_logprobs_for(
                [pairs[i] for i in b], ids, mask, [spans[i] for i in b]
            ),
            progress,
        )

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_file(
            {k: v.detach().cpu().contiguous() for k, v in self.prompter.state_dict().items()},
            str(folder / "qpeft.safetensors"),
        )
        cfg = {"variant": self.variant, "k": _prompt_count(self.prompter), "hidden": _hidden(self.prompter)}
        if isinstance(self.prompter, AttentionPrompt):
            cfg["heads"] = self.prompter.attn.num_heads
        (folder / "qpeft.json").write_text(json.dumps(cfg, indent=2))


def _prompt_count(m: nn.Module) -> int:
    return m.seeds.shape[0] if isinstance(m, AttentionPrompt) else m.k  # type: ignore[union-attr]


def _hidden(m: nn.Module) -> int:
    return m.seeds.shape[1] if isinstance(m, AttentionPrompt) else m.mlp[0].in_features  # type: ignore[index]


def load_prompter(folder: str | Path, device: torch.device | str = "cpu") -> tuple[str, nn.Module]:
    """The variant name and the prompter saved by QPeftScorer.save."""
    folder = Path(folder)
    cfg = json.loads((folder / "qpeft.json").read_text())
    prompter = build_prompter(cfg["variant"], cfg["hidden"], cfg["k"], cfg.get("heads", 4))
    prompter.load_state_dict(load_file(str(folder / "qpeft.safetensors")))
    return cfg["variant"], prompter.to(device)
