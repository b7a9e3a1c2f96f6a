"""Ranking losses as modules, called as `loss(scores, labels)`, and distillation losses as
`loss(scores, labels, teacher=teacher_scores)` (`compute_loss` passes the teacher only where needed).

`scores`, `labels` and `teacher` are (groups, group size): pointwise scores of each document of a group,
with the positive at index 0 for the group losses. PairwiseAB takes A/B logits and 0/1 targets, shape (n,).

Each loss declares what it needs: the kinds of score it accepts (`accepts`, see
rankscope.scorers.registry.ScoreKind), whether its groups need negatives, whether it needs a teacher's
scores, and whether it takes the relevance threshold or a temperature. `register_loss` makes a new one
usable by name in specs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from rankscope.fields import STUDENT_WEIGHT, TEMPERATURE


class Loss(nn.Module):
    """Base of the registered losses: what they accept and need, declared as class attributes."""

    accepts: ClassVar[frozenset[str]] = frozenset({"logit", "logprob", "similarity"})
    needs_negatives: ClassVar[bool] = True
    needs_teacher: ClassVar[bool] = False
    takes_threshold: ClassVar[bool] = False
    takes_temperature: ClassVar[bool] = False
    takes_student_weight: ClassVar[bool] = False


class PointwiseBCE(Loss):
    """Binary cross-entropy on each (query, document) logit; graded labels binarised at `threshold`."""

    accepts = frozenset({"logit"})
    needs_negatives = False
    takes_threshold = True

    def __init__(self, threshold: float = 1.0) -> None:
        super().__init__()
        self.threshold = threshold

    def forward(self, scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        target = (labels.float() >= self.threshold).float()
        return F.binary_cross_entropy_with_logits(scores.float(), target)


def _pairs(scores: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Differences s_i - s_j over every pair in a group with label_i > label_j, and a 0/1 mask of them."""
    diff = scores.float()[:, :, None] - scores.float()[:, None, :]
    mask = (labels[:, :, None] > labels[:, None, :]).float()
    return diff, mask


class RankNet(Loss):
    """Logistic loss log(1 + exp(-(s_pos - s_neg))) over every ordered pair in a group."""

    def forward(self, scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        diff, mask = _pairs(scores, labels)
        return (F.softplus(-diff) * mask).sum() / mask.sum().clamp(min=1.0)


class Hinge(Loss):
    """Margin loss max(0, margin - (s_pos - s_neg)) over every ordered pair in a group."""

    def __init__(self, margin: float = 1.0) -> None:
        super().__init__()
        self.margin = margin

    def forward(self, scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        diff, mask = _pairs(scores, labels)
        return (F.relu(self.margin - diff) * mask).sum() / mask.sum().clamp(min=1.0)


class ListwiseSoftmaxCE(Loss):
    """Softmax cross-entropy over each group with the positive at index 0 (InfoNCE over 1 + n)."""

    def __init__(self, temperature: float = TEMPERATURE) -> None:
        super().__init__()
        self.temperature = temperature

    def forward(self, scores: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        target = torch.zeros(scores.shape[0], dtype=torch.long, device=scores.device)
        return F.cross_entropy(scores.float() / self.temperature, target)


class PairwiseAB(Loss):
    """Two-way cross-entropy on logit(A) - logit(B): target 1 when A is the better document."""

    accepts = frozenset({"ab"})

    def forward(self, scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(scores.float().reshape(-1), labels.float().reshape(-1))


class QueryLikelihoodNLL(Loss):
    """Negative mean log P(query | relevant document): scores are per-token log-probabilities."""

    accepts = frozenset({"logprob"})
    needs_negatives = False
    takes_threshold = True

    def __init__(self, threshold: float = 1.0) -> None:
        super().__init__()
        self.threshold = threshold

    def forward(self, scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        mask = (labels >= self.threshold).float()
        return -(scores.float() * mask).sum() / mask.sum().clamp(min=1.0)


class QPeftLoss(Loss):
    """Q-PEFT's pointwise + pairwise sum on query-likelihood scores s (mean log P(q | d, prompts) per token):

        L = mean_{(i, j): y_ij >= t} -s_ij
            + pairwise_weight * mean_{(i, j, l): y_ij > y_il} log(1 + exp(-(s_ij - s_il)))

    the positives' query NLL (as `ql-nll`) plus RankNet over every ordered pair of a group (as `ranknet`).
    """

    accepts = frozenset({"logprob"})
    takes_threshold = True

    def __init__(self, threshold: float = 1.0, pairwise_weight: float = 1.0) -> None:
        super().__init__()
        self.pointwise = QueryLikelihoodNLL(threshold)
        self.pairwise = RankNet()
        self.pairwise_weight = pairwise_weight

    def forward(self, scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.pointwise(scores, labels) + self.pairwise_weight * self.pairwise(scores, labels)


def _check_teacher(scores: torch.Tensor, teacher: torch.Tensor | None) -> torch.Tensor:
    if teacher is None:
        raise ValueError("this loss distils a teacher: pass teacher=(groups, group size) scores")
    if teacher.shape != scores.shape:
        raise ValueError(f"teacher scores {tuple(teacher.shape)} do not match scores {tuple(scores.shape)}")
    return teacher.to(scores.device).float()


class MarginMSE(Loss):
    """Margin-MSE (Hofstätter et al. 2020): mean over groups and negatives i of
    ((s_pos - s_neg_i) - (t_pos - t_neg_i))^2, the student's margins regressed on the teacher's."""

    needs_teacher = True

    def forward(
        self, scores: torch.Tensor, labels: torch.Tensor | None = None, teacher: torch.Tensor | None = None
    ) -> torch.Tensor:
        t = _check_teacher(scores, teacher)
        s = scores.float()
        return F.mse_loss(s[:, :1] - s[:, 1:], t[:, :1] - t[:, 1:])


class ListwiseKL(Loss):
    """Listwise distillation: T^2 * KL(softmax(t / T) || softmax(s / T)) over each group, averaged over
    groups; the T^2 keeps gradients comparable across temperatures (Hinton et al. 2015)."""

    needs_teacher = True
    takes_temperature = True

    def __init__(self, temperature: float = TEMPERATURE) -> None:
        super().__init__()
        self.temperature = temperature

    def forward(
        self, scores: torch.Tensor, labels: torch.Tensor | None = None, teacher: torch.Tensor | None = None
    ) -> torch.Tensor:
        t = _check_teacher(scores, teacher)
        temp = self.temperature
        student = F.log_softmax(scores.float() / temp, dim=-1)
        target = F.log_softmax(t / temp, dim=-1)
        return F.kl_div(student, target, reduction="batchmean", log_target=True) * temp**2


def zscore(scores: torch.Tensor) -> torch.Tensor:
    """Each row (group) shifted to mean 0 and scaled to standard deviation 1 (0 where it is constant), as
    `rankscope fuse --norm zscore` normalises a query's scores."""
    s = scores.float()
    centred = s - s.mean(dim=-1, keepdim=True)
    std = centred.pow(2).mean(dim=-1, keepdim=True).sqrt()
    return torch.where(std > 1e-6, centred / std.clamp(min=1e-6), torch.zeros_like(centred))


class ResidualListwise(Loss):
    """Listwise softmax cross-entropy of the student *fused with* its teacher, the positive at index 0:

        logits = (w * zscore(s) + (1 - w) * t) / T

    with zscore over each group and t the teacher's (per-query normalised) scores. The student is trained
    to correct the teacher where it errs, not to rank alone: it is meant to be served fused with the
    teacher (`rankscope fuse`, reranker weight about w), as a residual on a strong first stage."""

    needs_teacher = True
    takes_temperature = True
    takes_student_weight = True

    def __init__(self, temperature: float = TEMPERATURE, student_weight: float = STUDENT_WEIGHT) -> None:
        super().__init__()
        if not 0.0 < student_weight <= 1.0:
            raise ValueError(f"student_weight must be in (0, 1], not {student_weight}")
        self.listwise, self.student_weight = ListwiseSoftmaxCE(temperature), student_weight

    def forward(
        self, scores: torch.Tensor, labels: torch.Tensor | None = None, teacher: torch.Tensor | None = None
    ) -> torch.Tensor:
        t = _check_teacher(scores, teacher)
        w = self.student_weight
        return self.listwise(w * zscore(scores) + (1.0 - w) * t)


class WeightedSum(nn.Module):
    """sum_k w_k * loss_k(scores, labels), e.g. Q-PEFT's pointwise (NLL) + pairwise (RankNet); the
    teacher's scores go to the members that need them."""

    def __init__(self, losses: Sequence[nn.Module], weights: Sequence[float]) -> None:
        super().__init__()
        if len(losses) != len(weights) or not losses:
            raise ValueError("give one weight per loss")
        self.losses = nn.ModuleList(losses)
        self.weights = list(weights)

    @property
    def needs_teacher(self) -> bool:
        return any(getattr(loss, "needs_teacher", False) for loss in self.losses)

    def forward(
        self, scores: torch.Tensor, labels: torch.Tensor, teacher: torch.Tensor | None = None
    ) -> torch.Tensor:
        total = torch.zeros((), device=scores.device)
        for w, loss in zip(self.weights, self.losses, strict=True):
            total = total + w * apply_loss(loss, scores, labels, teacher)
        return total


class TeacherScaled(nn.Module):
    """A distillation loss given `scale` x the teacher's scores (the spec's teacher.scale): a z-scored
    teacher spreads by 1 within a query, a student's scores may spread wider, and a loss that matches
    the two would otherwise pull the student's scores together."""

    needs_teacher = True

    def __init__(self, loss: nn.Module, scale: float) -> None:
        super().__init__()
        self.loss, self.scale = loss, scale

    def forward(
        self, scores: torch.Tensor, labels: torch.Tensor, teacher: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self.loss(scores, labels, teacher=None if teacher is None else teacher * self.scale)


def apply_loss(
    loss: nn.Module, scores: torch.Tensor, labels: torch.Tensor, teacher: torch.Tensor | None = None
) -> torch.Tensor:
    """`loss(scores, labels)`, with `teacher=` only for losses that need it (plain modules stay callable
    with two arguments)."""
    if getattr(loss, "needs_teacher", False):
        return loss(scores, labels, teacher=teacher)
    return loss(scores, labels)


LOSSES: dict[str, type[Loss]] = {}


def register_loss(name: str) -> Callable[[type[Loss]], type[Loss]]:
    """Class decorator: the loss becomes objective `name` in specs, for the scorers whose score kind it
    accepts."""

    def wrap(cls: type[Loss]) -> type[Loss]:
        if not (isinstance(cls, type) and issubclass(cls, Loss)):  # its flags are read for every spec
            raise TypeError(f"register_loss('{name}') takes a subclass of rankscope.train.losses.Loss")
        LOSSES[name] = cls
        return cls

    return wrap


for _name, _cls in {
    "pointwise-bce": PointwiseBCE,
    "ranknet": RankNet,
    "hinge": Hinge,
    "listwise": ListwiseSoftmaxCE,
    "pairwise-ab": PairwiseAB,
    "ql-nll": QueryLikelihoodNLL,
    "qpeft": QPeftLoss,
    "margin-mse": MarginMSE,
    "kl": ListwiseKL,
    "residual-listwise": ResidualListwise,
}.items():
    register_loss(_name)(_cls)


def objectives_for(score_kind: str) -> list[str]:
    """The objectives a scorer making `score_kind` scores can train with."""
    return [name for name, cls in LOSSES.items() if score_kind in cls.accepts]


def build_loss(
    objectives: Sequence[tuple[str, float]],
    min_relevance: int = 1,
    temperature: float = TEMPERATURE,
    student_weight: float = STUDENT_WEIGHT,
    teacher_scale: float = 1.0,
) -> nn.Module:
    """One loss module for (name, weight) objectives; a single weight-1 objective is returned bare.
    `temperature` goes to the distillation losses that take one (the spec's teacher.temperature),
    `student_weight` to the residual objective (teacher.student_weight), and every loss that needs a
    teacher sees its scores times `teacher_scale` (teacher.scale)."""

    def make(name: str) -> nn.Module:
        cls = LOSSES[name]
        kwargs: dict[str, float] = {}
        if cls.takes_threshold:
            kwargs["threshold"] = float(min_relevance)
        if cls.takes_temperature:
            kwargs["temperature"] = temperature
        if cls.takes_student_weight:
            kwargs["student_weight"] = student_weight
        if cls.needs_teacher and teacher_scale != 1.0:
            return TeacherScaled(cls(**kwargs), teacher_scale)
        return cls(**kwargs)

    if len(objectives) == 1 and objectives[0][1] == 1.0:
        return make(objectives[0][0])
    return WeightedSum([make(n) for n, _ in objectives], [w for _, w in objectives])
