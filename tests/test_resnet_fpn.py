"""DynaSeg's ResNet + FPN network on a tiny random ResNet saved to disk and loaded by the real
``from_pretrained`` code (no weights can be downloaded in the tests)."""
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from sklearn.base import clone

from helpers import FAST, make_quadrants
from skdynaguide import DynaGuideSegmenter, ResNetFPN, _hub
from skdynaguide.guidance import WeightsNotFoundError, clear_model_cache
from skdynaguide.metrics import hungarian_miou
from skdynaguide.training.network import resolve_network
from skdynaguide.family.resnet_fpn import ResNetFPNNet

pytest.importorskip("transformers")


def save_tiny_resnet(path, classifier=True, n_stages=4):
    """A random basic-block ResNet, saved like ``microsoft/resnet-18`` (a classifier) or bare."""
    from transformers import ResNetConfig, ResNetForImageClassification, ResNetModel

    config = ResNetConfig(embedding_size=8, hidden_sizes=[8, 16, 16, 24][:n_stages],
                          depths=[1] * n_stages, layer_type="basic", num_labels=3)
    torch.manual_seed(0)
    (ResNetForImageClassification if classifier else ResNetModel)(config).save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module")
def tiny_resnet(tmp_path_factory):
    return save_tiny_resnet(tmp_path_factory.mktemp("tiny-resnet"))


def tiny(checkpoint, **params):
    return ResNetFPN(checkpoint=checkpoint, local_files_only=True, **params)


def reference_backbone(checkpoint):
    from transformers import ResNetModel

    return ResNetModel.from_pretrained(checkpoint, local_files_only=True)


def state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def assert_same_state(a, b):
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)


@pytest.mark.parametrize("stages", [1, 2, 3, 4])
@pytest.mark.parametrize("shape", [(2, 3), (17, 23), (33, 65), (64, 32)])
def test_the_response_has_the_input_size_for_any_size(tiny_resnet, stages, shape):
    net = tiny(tiny_resnet, stages=stages)(n_features=6, n_clusters=5).train()
    response = net(torch.rand(1, 3, *shape))
    assert response.shape == (1, 5, *shape)
    assert torch.isfinite(response).all()


def test_the_backbone_starts_from_the_checkpoint_and_the_fpn_from_the_seed(tiny_resnet):
    reference = reference_backbone(tiny_resnet)  # the checkpoint holds a classifier: "resnet." prefix
    builder = tiny(tiny_resnet, stages=2)
    torch.manual_seed(3)
    net = builder(n_features=6, n_clusters=5)
    torch.testing.assert_close(net.stem.convolution.weight, reference.embedder.embedder.convolution.weight)
    torch.testing.assert_close(net.stages[1].layers[0].shortcut.convolution.weight,
                               reference.encoder.stages[1].layers[0].shortcut.convolution.weight)
    assert len(net.stages) == 2 and len(net.lateral) == 3
    assert [m.in_channels for m in net.lateral] == [8, 8, 16]
    torch.manual_seed(3)
    again = builder(n_features=6, n_clusters=5)
    assert_same_state(state(net), state(again))
    torch.manual_seed(4)
    other = builder(n_features=6, n_clusters=5)
    assert not torch.equal(other.response[0].weight, net.response[0].weight)
    torch.testing.assert_close(other.stem.convolution.weight, net.stem.convolution.weight)


def test_a_bare_resnet_model_checkpoint_loads_too(tmp_path):
    checkpoint = save_tiny_resnet(tmp_path / "bare", classifier=False, n_stages=3)
    net = tiny(checkpoint, stages=3)(n_features=4, n_clusters=3)
    torch.testing.assert_close(net.stem.convolution.weight,
                               reference_backbone(checkpoint).embedder.embedder.convolution.weight)
    with pytest.raises(ValueError, match="stages=4 but the checkpoint .* has 3 stages"):
        tiny(checkpoint, stages=4)(n_features=4, n_clusters=3)


def test_training_moves_the_copy_and_never_the_cached_weights(tiny_resnet):
    builder = tiny(tiny_resnet)
    cached = builder._pretrained_backbone()
    before = state(cached)
    net = builder(n_features=6, n_clusters=5).train()
    stem = net.stem.convolution.weight
    assert stem.requires_grad and stem.data_ptr() != cached.embedder.embedder.convolution.weight.data_ptr()
    start = stem.detach().clone()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    for _ in range(3):
        optimizer.zero_grad()
        response = net(torch.rand(1, 3, 20, 24))
        torch.nn.functional.cross_entropy(response, response.argmax(1)).backward()
        optimizer.step()
    assert not torch.equal(stem, start)
    # the estimator end to end: the same cached object, bit for bit unchanged (BN stats too)
    image, _ = make_quadrants(20, 28)
    DynaGuideSegmenter(network=builder, **FAST).fit(image)
    assert builder._pretrained_backbone() is cached
    assert_same_state(before, state(cached))
    assert not cached.training and not any(p.requires_grad for p in cached.parameters())


def test_a_frozen_backbone_keeps_its_weights_and_batchnorm_statistics(tiny_resnet):
    net = tiny(tiny_resnet, freeze_backbone=True)(n_features=6, n_clusters=5).train()
    assert not any(p.requires_grad for p in net.stem.parameters())
    assert not net.stem.training and not net.stages.training and net.response.training
    backbone = state(net.stages)
    lateral = net.lateral[0].weight.detach().clone()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    for _ in range(2):
        optimizer.zero_grad()
        response = net(torch.rand(1, 3, 20, 24))
        torch.nn.functional.cross_entropy(response, response.argmax(1)).backward()
        optimizer.step()
    assert_same_state(backbone, state(net.stages))
    assert not torch.equal(lateral, net.lateral[0].weight)


def test_fit_predict_segments_the_quadrants(tiny_resnet):
    image, truth = make_quadrants(24, 30)
    before = image.copy()
    seg = DynaGuideSegmenter(network=tiny(tiny_resnet), **dict(FAST, max_iter=30))
    labels = seg.fit_predict(image)
    np.testing.assert_array_equal(image, before)
    assert labels.shape == truth.shape and labels.dtype == np.int64
    assert np.array_equal(np.unique(labels), np.arange(seg.n_labels_))
    assert hungarian_miou(truth, labels) > 0.8


def test_fits_are_deterministic_whether_or_not_the_weights_were_cached(tiny_resnet):
    image, _ = make_quadrants(20, 28)
    params = dict(FAST, network=tiny(tiny_resnet, stages=2), modularity_weight=1.0)
    clear_model_cache()
    first = DynaGuideSegmenter(**params).fit(image)
    assert any(key[0] == "resnet" for key in _hub.cached_keys())
    second = DynaGuideSegmenter(**params).fit(image)
    np.testing.assert_array_equal(first.labels_, second.labels_)
    np.testing.assert_array_equal(first.loss_history_["loss"], second.loss_history_["loss"])
    other = DynaGuideSegmenter(**dict(params, random_state=1)).fit(image)
    assert not np.array_equal(first.loss_history_["loss"], other.loss_history_["loss"])


def test_the_estimator_stays_light(tiny_resnet):
    image, _ = make_quadrants(16, 16)
    seg = DynaGuideSegmenter(network=tiny(tiny_resnet), **FAST).fit(image)
    data = pickle.dumps(seg)
    assert b"torch" not in data  # no module, tensor or weights; fitted attributes are numpy
    assert len(pickle.dumps(seg.network)) < 1000
    assert clone(seg).get_params()["network"].get_params() == seg.network.get_params()
    np.testing.assert_array_equal(pickle.loads(data).labels_, seg.labels_)


def test_the_string_resolves_to_the_defaults():
    builder = resolve_network("resnet18-fpn")
    assert type(builder) is ResNetFPN
    assert builder.get_params() == ResNetFPN().get_params()
    assert builder.checkpoint == "microsoft/resnet-18" and builder.pretrained and builder.stages == 3


def test_an_untrained_resnet18_needs_no_checkpoint():
    net = ResNetFPN(checkpoint="/nowhere", pretrained=False, stages=1)(n_features=4, n_clusters=3)
    assert isinstance(net, ResNetFPNNet)
    assert [m.in_channels for m in net.lateral] == [64, 64]  # ResNet-18's widths
    assert net(torch.rand(1, 3, 9, 11)).shape == (1, 3, 9, 11)


def test_missing_weights_are_explained(tmp_path):
    image = np.zeros((8, 8, 3))
    seg = DynaGuideSegmenter(network=tiny(str(tmp_path / "nowhere")), **FAST)
    with pytest.raises(WeightsNotFoundError, match="does not exist") as info:
        seg.fit(image)
    for needle in ("hf download", "snapshot_download", "checkpoint='<DIR>'", "local_files_only=True"):
        assert needle in str(info.value)
    seg = DynaGuideSegmenter(network=ResNetFPN(local_files_only=True, cache_dir=str(tmp_path / "hf")),
                             **FAST)
    with pytest.raises(WeightsNotFoundError, match="hf download microsoft/resnet-18"):
        seg.fit(image)


@pytest.mark.parametrize("params, error, message", [
    (dict(stages=0), ValueError, "ResNetFPN.stages must be >= 1"),
    (dict(stages=5), ValueError, "between 1 and 4"),
    (dict(stages=2.0), TypeError, "ResNetFPN.stages must be an int"),
    (dict(pretrained="yes"), TypeError, "pretrained must be a bool"),
    (dict(freeze_backbone=1), TypeError, "freeze_backbone must be a bool"),
    (dict(checkpoint=None), TypeError, "checkpoint must be a string"),
])
def test_invalid_parameters_are_reported_before_any_loading(params, error, message):
    with pytest.raises(error, match=message):
        DynaGuideSegmenter(network=ResNetFPN(**params)).fit(np.zeros((8, 8, 3)))


@pytest.mark.slow  # imports the package in a fresh Python process
def test_importing_the_package_does_not_import_transformers():
    code = "import sys, skdynaguide; assert 'transformers' not in sys.modules, 'imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


# -- torch hub / torchvision weights files ------------------------------------------------------


class _TorchvisionBlock(torch.nn.Module):
    """torchvision's BasicBlock, written out (torchvision is not a dependency)."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        nn = torch.nn
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                            nn.BatchNorm2d(cout))

    def forward(self, x):
        out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.relu(out + (x if self.downsample is None else self.downsample(x)))


class _TorchvisionResNet(torch.nn.Module):
    def __init__(self, widths=(8, 16, 16, 24), depths=(2, 1, 1, 2)):
        super().__init__()
        nn = torch.nn
        self.conv1 = nn.Conv2d(3, widths[0], 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        cin = widths[0]
        for i, (width, depth) in enumerate(zip(widths, depths), start=1):
            blocks = [_TorchvisionBlock(cin if j == 0 else width, width,
                                        2 if (i > 1 and j == 0) else 1) for j in range(depth)]
            setattr(self, f"layer{i}", nn.Sequential(*blocks))
            cin = width
        self.fc = nn.Linear(cin, 10)

    def forward(self, x):
        x = torch.nn.functional.max_pool2d(torch.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        for i in range(1, 5):
            x = getattr(self, f"layer{i}")(x)
        return x


def test_torchvision_weights_file_loads_into_the_same_function(tmp_path):
    torch.manual_seed(3)
    reference = _TorchvisionResNet()
    for module in reference.modules():  # non-trivial BatchNorm statistics
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    reference.eval()
    path = tmp_path / "resnet-tiny.pth"
    torch.save({"state_dict": reference.state_dict()}, path)
    try:
        backbone = ResNetFPN(checkpoint=str(path))._pretrained_backbone()
        x = torch.rand(1, 3, 40, 56)
        with torch.no_grad():
            torch.testing.assert_close(backbone(x).last_hidden_state, reference(x))
        labels = DynaGuideSegmenter(network=ResNetFPN(checkpoint=path, stages=2),
                                    **FAST).fit_predict(make_quadrants(16, 16)[0])
        assert labels.shape == (16, 16)
    finally:
        clear_model_cache()


def test_bad_torchvision_files_are_explained(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="resnet18-f37072fd.pth"):
        ResNetFPN(checkpoint=str(tmp_path / "missing.pth"))._pretrained_backbone()
    path = tmp_path / "other.pt"
    torch.save({"weight": torch.zeros(2)}, path)
    with pytest.raises(ValueError, match="not a torchvision ResNet state dict"):
        ResNetFPN(checkpoint=str(path))._pretrained_backbone()
    state = _TorchvisionResNet().state_dict()
    state["layer1.0.conv3.weight"] = torch.zeros(1)
    torch.save(state, path)
    with pytest.raises(ValueError, match="bottleneck ResNet"):
        ResNetFPN(checkpoint=str(path))._pretrained_backbone()
    clear_model_cache()
