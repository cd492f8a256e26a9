import numpy as np
import pytest
import torch
from torch import nn

from helpers import FAST, make_quadrants
from skdynaguide import DynaGuideSegmenter
from skdynaguide.training.network import DynaGuideNet, resolve_network


def test_output_keeps_the_input_size():
    net = DynaGuideNet(n_features=8, n_clusters=5, n_blocks=3)
    assert net(torch.rand(1, 3, 7, 9)).shape == (1, 5, 7, 9)


def test_paper_size_is_about_a_tenth_of_a_million_parameters():
    n = sum(p.numel() for p in DynaGuideNet().parameters())
    # 3x3 (3->100) + 3x3 (100->100) + 1x1 (100->100) + three BatchNorms
    assert n == (3 * 9 * 100 + 100) + (100 * 9 * 100 + 100) + (100 * 100 + 100) + 3 * 200
    assert 0.09e6 < n < 0.11e6


def test_residual_connection_changes_the_function():
    torch.manual_seed(0)
    with_skip = DynaGuideNet(n_features=6, n_clusters=4, residual=True)
    without = DynaGuideNet(n_features=6, n_clusters=4, residual=False)
    without.load_state_dict(with_skip.state_dict())
    x = torch.rand(1, 3, 5, 5)
    assert not torch.allclose(with_skip(x), without(x))
    # with a single 3x3 block the skip has nothing to bypass
    single = DynaGuideNet(n_features=6, n_clusters=4, n_blocks=1, residual=True)
    plain = DynaGuideNet(n_features=6, n_clusters=4, n_blocks=1, residual=False)
    plain.load_state_dict(single.state_dict())
    assert torch.allclose(single(x), plain(x))


# -- the estimator's ``network`` parameter ----------------------------------------------------


def test_cnn_uses_the_estimator_shape_parameters():
    net = resolve_network("cnn", n_blocks=3, residual=False)(8, 5)
    assert isinstance(net, DynaGuideNet) and len(net.blocks) == 3 and not net.residual
    assert net.response[0].out_channels == 5


def test_a_module_class_is_a_factory_and_gives_the_cnn_result():
    image, _ = make_quadrants(16, 16)
    by_name = DynaGuideSegmenter(**FAST).fit_predict(image)
    by_class = DynaGuideSegmenter(network=DynaGuideNet, **FAST).fit_predict(image)
    np.testing.assert_array_equal(by_name, by_class)


class _Downsampling(nn.Module):
    def __init__(self, n_features, n_clusters):
        super().__init__()
        self.conv = nn.Conv2d(3, n_clusters, 3, stride=2, padding=1)

    def forward(self, x):
        return self.conv(x)


def test_bad_networks_are_refused_with_a_reason():
    image = np.zeros((12, 12, 3))
    with pytest.raises(TypeError, match="module instance DynaGuideNet"):
        DynaGuideSegmenter(network=DynaGuideNet(8, 4), **FAST).fit(image)
    with pytest.raises(TypeError, match="network must be one of"):
        DynaGuideSegmenter(network=3, **FAST).fit(image)
    with pytest.raises(ValueError, match="unknown network 'resnet'"):
        DynaGuideSegmenter(network="resnet", **FAST).fit(image)
    with pytest.raises(ValueError, match=r"response of shape \(1, 12, 6, 6\) .* expected \(1, 12, 12, 12\)"):
        DynaGuideSegmenter(network=_Downsampling, **FAST).fit(image)
    with pytest.raises(ValueError, match="_Downsampling has no `response` submodule"):
        DynaGuideSegmenter(network=_Downsampling, modularity_weight=1.0, **FAST).fit(image)
