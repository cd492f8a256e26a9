import torch

from skdynaguide.network import DynaGuideNet


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
