"""Each loss against a hand computation, and its gradient direction."""

from __future__ import annotations

import math

import pytest
import torch

from rankscope.train.losses import (
    Hinge,
    ListwiseSoftmaxCE,
    PairwiseAB,
    PointwiseBCE,
    QueryLikelihoodNLL,
    RankNet,
    WeightedSum,
    build_loss,
)

SCORES = torch.tensor([[2.0, 1.0, -1.0]])
LABELS = torch.tensor([[1.0, 0.0, 0.0]])


def test_listwise_is_cross_entropy_with_positive_first() -> None:
    want = -(2.0 - math.log(math.exp(2) + math.exp(1) + math.exp(-1)))
    assert ListwiseSoftmaxCE()(SCORES, LABELS).item() == pytest.approx(want)


def test_ranknet_and_hinge_over_pairs() -> None:
    want = (math.log1p(math.exp(-1.0)) + math.log1p(math.exp(-3.0))) / 2
    assert RankNet()(SCORES, LABELS).item() == pytest.approx(want)
    assert Hinge(margin=1.0)(SCORES, LABELS).item() == pytest.approx(0.0)
    assert Hinge(margin=2.0)(SCORES, LABELS).item() == pytest.approx(0.5)
    graded = torch.tensor([[3.0, 1.0, 0.0]])  # 3 > 1 > 0: three ordered pairs
    assert RankNet()(SCORES, graded).item() == pytest.approx(
        (math.log1p(math.exp(-1)) + math.log1p(math.exp(-3)) + math.log1p(math.exp(-2))) / 3
    )


def test_pointwise_bce_binarises_or_scales() -> None:
    s, y = torch.tensor([[0.0, 0.0]]), torch.tensor([[2.0, 0.0]])
    assert PointwiseBCE()(s, y).item() == pytest.approx(math.log(2))
    assert PointwiseBCE(threshold=3)(torch.tensor([[-5.0, -5.0]]), y).item() < 0.01
    assert PointwiseBCE(scale=True)(torch.tensor([[0.0]]), torch.tensor([[1.0]])).item() == pytest.approx(
        math.log(2)
    )


def test_pairwise_ab_and_ql_nll() -> None:
    assert PairwiseAB()(torch.tensor([0.0, 0.0]), torch.tensor([1.0, 0.0])).item() == pytest.approx(
        math.log(2)
    )
    lp = torch.tensor([[-1.0, -5.0], [-3.0, -7.0]])
    assert QueryLikelihoodNLL()(lp, torch.tensor([[1.0, 0.0], [1.0, 0.0]])).item() == pytest.approx(2.0)


def test_weighted_sum_and_build() -> None:
    total = WeightedSum([RankNet(), ListwiseSoftmaxCE()], [0.5, 2.0])(SCORES, LABELS)
    assert total.item() == pytest.approx(
        0.5 * RankNet()(SCORES, LABELS) + 2 * ListwiseSoftmaxCE()(SCORES, LABELS)
    )
    assert isinstance(build_loss([("hinge", 1.0)]), Hinge)
    assert isinstance(build_loss([("ql-nll", 1.0), ("ranknet", 1.0)]), WeightedSum)


@pytest.mark.parametrize("loss", [RankNet(), Hinge(2.0), ListwiseSoftmaxCE(), PointwiseBCE()])
def test_gradient_raises_positive_and_lowers_negatives(loss: torch.nn.Module) -> None:
    s = torch.zeros(1, 3, requires_grad=True)
    loss(s, LABELS).backward()
    assert s.grad[0, 0] < 0 and (s.grad[0, 1:] > 0).all()
