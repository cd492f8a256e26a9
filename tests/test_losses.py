import numpy as np
import pytest
import torch

from skdynaguide.losses import (
    ContinuityLoss,
    FeatureSimilarityLoss,
    FixedWeight,
    FSFWeight,
    GuidanceLoss,
    HuberContinuity,
    L1Continuity,
    SCFWeight,
    resolve_continuity,
    resolve_weighting,
)

# one channel, 2x2:  [[0, 3],
#                     [1, 1]]
R = torch.tensor([[[[0.0, 3.0], [1.0, 1.0]]]])


def test_l1_horizontal_vertical_by_hand():
    # horizontal diffs: 3, 0 -> mean 1.5 ; vertical diffs: 1, -2 -> mean 1.5
    assert float(L1Continuity()(R)) == pytest.approx(3.0)


def test_l1_with_diagonals_by_hand():
    # diagonal: R[1,1]-R[0,0] = 1 ; anti-diagonal: R[1,0]-R[0,1] = -2
    loss = L1Continuity(diagonal=True, anti_diagonal=True)
    assert float(loss(R)) == pytest.approx(3.0 + 1.0 + 2.0)
    assert float(L1Continuity(diagonal=True)(R)) == pytest.approx(4.0)


def test_huber_by_hand():
    # huber_1(d): |d|<=1 -> d^2/2, else |d|-1/2
    # horizontal: h(3)=2.5, h(0)=0 -> 1.25 ; vertical: h(1)=0.5, h(-2)=1.5 -> 1.0
    # diagonal: h(1)=0.5 ; anti-diagonal: h(-2)=1.5
    assert float(HuberContinuity()(R)) == pytest.approx(1.25 + 1.0 + 0.5 + 1.5)
    assert float(HuberContinuity(diagonal=False, anti_diagonal=False)(R)) == pytest.approx(2.25)
    # delta = 2: h(3) = 2*(3-1) = 4, h(-2) = 2, h(1) = 0.5
    assert float(HuberContinuity(delta=2.0, diagonal=False, anti_diagonal=False)(R)) == (
        pytest.approx((4.0 + 0.0) / 2 + (0.5 + 2.0) / 2)
    )


def test_huber_fused_kernel_equals_the_elementwise_formula():
    diff = torch.randn(2, 5, 7, 9) * 3
    for delta in (0.5, 1.0, 2.5):
        loss = HuberContinuity(delta=delta)
        assert float(loss.mean_penalty(diff)) == pytest.approx(float(loss.penalty(diff).mean()), rel=1e-5)


def test_one_pixel_wide_images_have_no_vertical_pairs():
    row = torch.tensor([[[[0.0, 2.0, 2.0]]]])
    assert float(L1Continuity(diagonal=True, anti_diagonal=True)(row)) == pytest.approx(1.0)


def test_constant_response_has_zero_continuity_and_gradient_flows():
    response = torch.ones(1, 3, 4, 5, requires_grad=True)
    loss = HuberContinuity()(response)
    loss.backward()
    assert float(loss.detach()) == 0.0 and response.grad is not None


def test_a_new_continuity_loss_is_one_small_class():
    class Squared(ContinuityLoss, name="squared-test"):
        def __init__(self, diagonal=False, anti_diagonal=False):
            super().__init__(diagonal, anti_diagonal)

        def penalty(self, diff):
            return diff * diff

    assert float(resolve_continuity("squared-test")(R)) == pytest.approx(4.5 + 2.5)


def test_resolve_continuity():
    assert isinstance(resolve_continuity("huber"), HuberContinuity)
    assert isinstance(resolve_continuity("L1"), L1Continuity)
    custom = HuberContinuity(delta=0.5)
    assert resolve_continuity(custom) is custom
    with pytest.raises(ValueError, match="unknown continuity loss 'l3'"):
        resolve_continuity("l3")
    with pytest.raises(TypeError, match="ContinuityLoss instance"):
        resolve_continuity(3)
    with pytest.raises(ValueError, match="delta must be > 0"):
        resolve_continuity(HuberContinuity(delta=0))
    with pytest.raises(TypeError, match="diagonal must be a bool"):
        resolve_continuity(L1Continuity(diagonal="yes"))


def test_feature_similarity_is_cross_entropy_against_own_argmax():
    response = torch.tensor([[[[2.0]], [[0.0]]]])
    expected = -np.log(np.exp(2) / (np.exp(2) + 1))
    assert float(FeatureSimilarityLoss()(response, response.argmax(1))) == pytest.approx(expected)


def test_guidance_loss_ignores_unguided_pixels():
    response = torch.zeros(1, 4, 2, 2)
    response[0, 1, 0, 0] = 5.0  # wrong everywhere guided below except pixel (0, 1)
    target = torch.tensor([[[0, 1], [-1, -1]]])
    expected = (-np.log(1 / (np.exp(5) + 3)) + np.log(4)) / 2
    assert float(GuidanceLoss()(response, target)) == pytest.approx(expected, rel=1e-5)
    assert float(GuidanceLoss()(response, torch.full((1, 2, 2), -1))) == 0.0


def test_weightings():
    assert FSFWeight(alpha=15)(30) == 2.0
    assert SCFWeight(alpha=50)(10) == 5.0
    assert FixedWeight(mu=5)(7) == 5.0
    fsf = resolve_weighting("fsf", 10)
    assert isinstance(fsf, FSFWeight) and fsf.alpha == 10
    scf = resolve_weighting("scf", 50)
    assert isinstance(scf, SCFWeight) and scf(25) == 2.0
    fixed = resolve_weighting(3, 15)
    assert isinstance(fixed, FixedWeight) and fixed(99) == 3.0
    with pytest.raises(ValueError, match="unknown weighting"):
        resolve_weighting("linear", 15)
    with pytest.raises(TypeError, match="weighting must be"):
        resolve_weighting(True, 15)
    with pytest.raises(ValueError, match="alpha must be > 0"):
        resolve_weighting("fsf", 0)
    with pytest.raises(ValueError, match="mu must be >= 0"):
        resolve_weighting(-1.0, 15)
