import numpy as np
import pytest
import torch

from helpers import FAST, make_quadrants
from skdynaguide import DynaGuideSegmenter
from skdynaguide.losses import ModularityLoss, modularity_loss


def brute_force_modularity(features, assignments):
    """-Q by the formula, pair by pair: -1/(2m) sum_ij (A_ij - k_i k_j / 2m) s_i . s_j."""
    n = len(features)
    affinity = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            norms = np.linalg.norm(features[i]) * np.linalg.norm(features[j])
            affinity[i, j] = max(0.0, features[i] @ features[j] / norms)
    degree = affinity.sum(axis=1)
    two_m = affinity.sum()
    q = 0.0
    for i in range(n):
        for j in range(n):
            delta = assignments[i] @ assignments[j]
            q += (affinity[i, j] - degree[i] * degree[j] / two_m) * delta
    return -q / two_m


# a hand-built graph: two tight groups of three, one node in between, one opposite node
FEATURES = np.array([[1.0, 0.1, 0.0], [1.0, 0.0, 0.1], [0.9, 0.1, 0.1],
                     [0.0, 1.0, 0.1], [0.1, 1.0, 0.0], [0.0, 0.9, 0.2],
                     [0.7, 0.7, 0.0], [-1.0, -0.5, 0.3]])


@pytest.mark.parametrize("kind", ["hard-right", "hard-wrong", "soft", "one-cluster"])
def test_modularity_loss_matches_the_pairwise_formula(kind):
    rng = np.random.default_rng(0)
    if kind == "hard-right":
        s = np.eye(3)[[0, 0, 0, 1, 1, 1, 0, 2]]
    elif kind == "hard-wrong":
        s = np.eye(3)[[0, 1, 2, 0, 1, 2, 0, 1]]
    elif kind == "soft":
        s = rng.dirichlet(np.ones(4), size=8)
    else:
        s = np.ones((8, 1))
    expected = brute_force_modularity(FEATURES, s)
    got = modularity_loss(torch.tensor(FEATURES), torch.tensor(s))
    assert float(got) == pytest.approx(expected, rel=1e-10, abs=1e-12)
    if kind == "one-cluster":
        assert float(got) == pytest.approx(0.0, abs=1e-12)  # the null model's fixed point


def test_the_right_partition_has_the_lowest_loss():
    features = torch.tensor(FEATURES)
    right = modularity_loss(features, torch.tensor(np.eye(3)[[0, 0, 0, 1, 1, 1, 0, 2]]))
    wrong = modularity_loss(features, torch.tensor(np.eye(3)[[0, 1, 2, 0, 1, 2, 0, 1]]))
    assert float(right) < -0.2 and float(right) < float(wrong) - 0.2


def test_a_graph_without_edges_gives_zero_and_a_gradient():
    features = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])  # cos = -1: no edge after max(0, .)
    features[0, 0] = 0.0  # and a zero vector: no self-loop either
    s = torch.full((2, 2), 0.5, requires_grad=True)
    loss = modularity_loss(features, s)
    loss.backward()
    assert float(loss.detach()) == 0.0 and s.grad is not None


def test_subsampled_loss_uses_the_drawn_pixels_and_is_reproducible():
    torch.manual_seed(0)
    features, response = torch.randn(1, 6, 12, 10), torch.randn(1, 4, 12, 10)
    loss = ModularityLoss(n_samples=50)
    a = loss(features, response, torch.Generator().manual_seed(3))
    b = loss(features, response, torch.Generator().manual_seed(3))
    c = loss(features, response, torch.Generator().manual_seed(4))
    assert float(a) == float(b) != float(c)
    index = torch.randperm(120, generator=torch.Generator().manual_seed(3))[:50]
    flat_f, flat_r = features.reshape(6, 120).T[index], response.reshape(4, 120).T[index]
    assert float(a) == pytest.approx(float(modularity_loss(flat_f, flat_r.softmax(1))), rel=1e-6)
    # with at least as many samples as pixels, the whole graph is used
    whole = ModularityLoss(n_samples=500)(features, response)
    expected = brute_force_modularity(features.reshape(6, 120).T.double().numpy(),
                                      response.reshape(4, 120).T.double().softmax(1).numpy())
    assert float(whole) == pytest.approx(expected, rel=1e-4)


def test_gradients_reach_features_and_assignments():
    features = torch.randn(1, 5, 6, 6, requires_grad=True)
    response = torch.randn(1, 3, 6, 6, requires_grad=True)
    ModularityLoss(n_samples=20)(features, response, torch.Generator().manual_seed(0)).backward()
    assert features.grad.abs().sum() > 0 and response.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="n_samples must be >= 2"):
        ModularityLoss(n_samples=1)


def test_estimator_option_logs_the_term_and_stays_deterministic():
    image, _ = make_quadrants()
    params = {**FAST, "guidance": None, "modularity_weight": 1.0, "modularity_samples": 256}
    seg = DynaGuideSegmenter(**params).fit(image)
    history = seg.loss_history_
    assert np.all(history["modularity"] < 0)  # features and clusters agree from the start
    np.testing.assert_allclose(
        history["loss"], history["similarity"] + history["continuity_weight"]
        * history["continuity"] + history["modularity"], rtol=1e-5)
    np.testing.assert_array_equal(seg.labels_, DynaGuideSegmenter(**params).fit_predict(image))
    off = DynaGuideSegmenter(**{**params, "modularity_weight": 0.0}).fit(image)
    assert np.all(off.loss_history_["modularity"] == 0)
    assert not np.array_equal(off.loss_history_["loss"], history["loss"])


@pytest.mark.parametrize(
    "params, error, match",
    [(dict(modularity_weight=-1.0), ValueError, "modularity_weight must be >= 0"),
     (dict(modularity_samples=1), ValueError, "modularity_samples must be >= 2"),
     (dict(modularity_samples=10.0), TypeError, "modularity_samples must be an int")],
)
def test_estimator_validates_the_modularity_parameters(params, error, match):
    image, _ = make_quadrants(8, 8)
    with pytest.raises(error, match=match):
        DynaGuideSegmenter(**params).fit(image)
