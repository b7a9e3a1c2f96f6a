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


def test_pointwise_bce_binarises_at_the_threshold() -> None:
    """By hand at logits 2 and -1 (at logit 0, BCE is log 2 whatever the label: the old check could not fail):
    label 2 >= 1 is relevant, softplus(-2); label 0 is not, softplus(-1); at threshold 3 both are not."""
    s, y = torch.tensor([[2.0, -1.0]]), torch.tensor([[2.0, 0.0]])
    softplus = lambda x: math.log1p(math.exp(x))  # noqa: E731
    assert PointwiseBCE()(s, y).item() == pytest.approx((softplus(-2) + softplus(-1)) / 2)
    assert PointwiseBCE(threshold=3)(s, y).item() == pytest.approx((softplus(2) + softplus(-1)) / 2)
    at = torch.tensor([[1.0, 0.0]])  # a label exactly at the threshold is relevant (>=, not >)
    assert PointwiseBCE()(s, at).item() == pytest.approx((softplus(-2) + softplus(-1)) / 2)


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


TEACHER = torch.tensor([[3.0, 0.0, 1.0]])


def test_margin_mse_regresses_student_margins_on_teacher_margins() -> None:
    from rankscope.train.losses import MarginMSE

    # student margins (1, 3), teacher margins (3, 2): ((1-3)^2 + (3-2)^2) / 2
    assert MarginMSE()(SCORES, LABELS, teacher=TEACHER).item() == pytest.approx(2.5)
    assert MarginMSE()(TEACHER + 7.0, LABELS, teacher=TEACHER).item() == pytest.approx(0.0)  # shift-free
    with pytest.raises(ValueError, match="teacher"):
        MarginMSE()(SCORES, LABELS)


@pytest.mark.parametrize("temperature", [1.0, 2.0])
def test_kl_is_listwise_kl_to_teacher_softmax(temperature: float) -> None:
    from rankscope.train.losses import ListwiseKL

    p = torch.softmax(TEACHER[0] / temperature, -1).tolist()
    q = torch.softmax(SCORES[0] / temperature, -1).tolist()
    want = sum(a * math.log(a / b) for a, b in zip(p, q, strict=True)) * temperature**2
    assert ListwiseKL(temperature)(SCORES, LABELS, teacher=TEACHER).item() == pytest.approx(want, rel=1e-5)
    assert ListwiseKL(temperature)(TEACHER, LABELS, teacher=TEACHER).item() == pytest.approx(0.0, abs=1e-6)


def test_distillation_in_a_weighted_sum_gets_the_teacher() -> None:
    from rankscope.train.losses import ListwiseKL, MarginMSE, apply_loss

    loss = build_loss([("kl", 1.0), ("listwise", 0.5)], temperature=2.0)
    assert isinstance(loss, WeightedSum) and loss.needs_teacher
    assert loss.losses[0].temperature == 2.0
    want = ListwiseKL(2.0)(SCORES, LABELS, teacher=TEACHER) + 0.5 * ListwiseSoftmaxCE()(SCORES, LABELS)
    assert apply_loss(loss, SCORES, LABELS, TEACHER).item() == pytest.approx(want.item())
    assert apply_loss(RankNet(), SCORES, LABELS, TEACHER).item() == RankNet()(SCORES, LABELS).item()
    assert isinstance(build_loss([("margin-mse", 1.0)]), MarginMSE)


@pytest.mark.parametrize("objective", ["kl", "margin-mse", "residual-listwise"])
def test_teacher_scale_multiplies_the_teacher_scores(objective: str) -> None:
    from rankscope.train.losses import ListwiseKL, apply_loss

    plain = build_loss([(objective, 1.0)])
    scaled = build_loss([(objective, 1.0), ("listwise", 0.5)], teacher_scale=3.0)
    want = apply_loss(plain, SCORES, LABELS, 3.0 * TEACHER) + 0.5 * ListwiseSoftmaxCE()(SCORES, LABELS)
    assert apply_loss(scaled, SCORES, LABELS, TEACHER).item() == pytest.approx(want.item())
    assert build_loss([(objective, 1.0)], teacher_scale=1.0).__class__ is plain.__class__
    # the fixed point of KL moves from the teacher's z-scores to three times them
    kl = build_loss([("kl", 1.0)], teacher_scale=3.0)
    assert apply_loss(kl, 3.0 * TEACHER, LABELS, TEACHER).item() == pytest.approx(0.0, abs=1e-6)
    assert (
        apply_loss(kl, TEACHER, LABELS, TEACHER).item()
        > ListwiseKL()(TEACHER, LABELS, teacher=TEACHER).item()
    )


def test_distillation_gradient_follows_the_teacher() -> None:
    from rankscope.train.losses import ListwiseKL, MarginMSE

    for loss in (MarginMSE(), ListwiseKL()):
        s = torch.zeros(1, 3, requires_grad=True)
        loss(s, LABELS, teacher=TEACHER).backward()
        # the teacher ranks 0 > 2 > 1: the positive goes up most, document 1 down most
        assert s.grad[0, 0] < s.grad[0, 2] < s.grad[0, 1]


def test_residual_listwise_is_cross_entropy_of_the_fused_scores() -> None:
    from rankscope.train.losses import ResidualListwise, zscore

    z = (SCORES[0] - SCORES[0].mean()) / SCORES[0].std(unbiased=False)
    fused = (0.25 * z + 0.75 * TEACHER[0]) / 2.0
    want = -(fused[0] - torch.logsumexp(fused, 0)).item()
    loss = build_loss([("residual-listwise", 1.0)], temperature=2.0, student_weight=0.25)
    assert isinstance(loss, ResidualListwise) and loss.student_weight == 0.25
    assert loss(SCORES, LABELS, teacher=TEACHER).item() == pytest.approx(want, rel=1e-5)
    # the student's scale and shift do not matter (its scores are z-scored per group, as `fuse` does)
    assert loss(3.0 * SCORES - 5.0, LABELS, teacher=TEACHER).item() == pytest.approx(want, rel=1e-5)
    assert zscore(torch.ones(2, 4)).abs().sum() == 0  # constant groups: 0, not NaN
    with pytest.raises(ValueError, match="student_weight"):
        ResidualListwise(student_weight=0.0)


def test_residual_gradient_pushes_the_positive_up_where_the_teacher_errs() -> None:
    from rankscope.train.losses import ResidualListwise

    s = torch.tensor([[0.0, 0.1, -0.1]], requires_grad=True)
    wrong = torch.tensor([[-1.0, 1.0, 0.0]])  # the teacher puts a negative first
    ResidualListwise(student_weight=0.5)(s, LABELS, teacher=wrong).backward()
    assert s.grad[0, 0] < 0 < s.grad[0, 1]  # descent raises the positive, lowers the teacher's top negative


def test_a_custom_loss_gets_every_setting_it_declares_and_a_non_loss_is_refused(monkeypatch) -> None:
    from rankscope.train import losses

    class GradedKL(losses.Loss):
        needs_teacher = takes_threshold = takes_temperature = True

        def __init__(self, threshold: float = 1.0, temperature: float = 1.0) -> None:
            super().__init__()
            self.threshold, self.temperature = threshold, temperature

    monkeypatch.setitem(losses.LOSSES, "graded-kl", GradedKL)
    built = losses.build_loss([("graded-kl", 1.0)], min_relevance=2, temperature=5.0, teacher_scale=3.0)
    assert isinstance(built, losses.TeacherScaled)  # threshold alone was passed before: no T, no scale
    inner = next(m for m in built.modules() if isinstance(m, GradedKL))
    assert (inner.threshold, inner.temperature) == (2.0, 5.0)
    with pytest.raises(TypeError, match="subclass of rankscope.train.losses.Loss"):
        losses.register_loss("plain")(object)  # type: ignore[arg-type]
    assert "plain" not in losses.LOSSES
