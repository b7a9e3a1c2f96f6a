"""A decoder scorer with a trained linear head on the last token's final hidden state."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import PreTrainedTokenizerBase

from rankscope.models.loading import hidden_size
from rankscope.scorers.base import float32_linear, model_device, unwrap
from rankscope.scorers.decoder import YesNoScorer

HEAD_FILE = "head.safetensors"


class LinearHead(nn.Module):
    """score = w . h_last + b (float32, whatever the backbone's dtype and under bf16 autocast)."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.linear = nn.Linear(hidden_size, 1)
        nn.init.normal_(self.linear.weight, std=hidden_size**-0.5)
        nn.init.zeros_(self.linear.bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return float32_linear(self.linear, hidden)


class LinearHeadScorer(YesNoScorer):
    """The yes/no prompt, but the score is a linear head on the last token instead of two vocab logits."""

    name = "linear-head"

    def __init__(
        self, model: nn.Module, tokenizer: PreTrainedTokenizerBase, head: nn.Module | None = None, **kw: int
    ) -> None:
        super().__init__(model, tokenizer, **kw)
        hidden = hidden_size(unwrap(model))
        self.head = head if head is not None else LinearHead(hidden).to(model_device(model))

    def relevance(self, last: torch.Tensor) -> torch.Tensor:
        """The head's score of each row's last hidden state (also after a cached prefix)."""
        return self.head(last).float()


def save_head(head: nn.Module, folder: str | Path) -> None:
    """The head's weights as `head.safetensors` beside an adapter."""
    state = {k: v.detach().cpu().contiguous() for k, v in head.state_dict().items()}
    save_file(state, str(Path(folder) / HEAD_FILE))


def load_head(head: nn.Module, folder: str | Path) -> nn.Module:
    """Load `head.safetensors` from `folder` into `head` (in place) and return it."""
    head.load_state_dict(load_file(str(Path(folder) / HEAD_FILE)))
    return head
