"""The package's layout: the pipeline stages as subpackages, one gradient step, one output
pipeline, small modules, and the old import paths still working."""
import importlib
import pickle
from pathlib import Path

import numpy as np
import pytest

import skdynaguide

PACKAGE = Path(skdynaguide.__file__).resolve().parent


def test_the_tree_shows_the_pipeline():
    for stage in ("guidance", "boundaries", "training", "output", "metrics", "family",
                  "losses"):
        assert (PACKAGE / stage / "__init__.py").exists(), stage


def test_no_module_is_much_past_500_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 600}
    assert not long, long


def test_gradients_are_taken_in_one_place():
    backward = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                if ".backward(" in p.read_text()]
    assert backward == ["training/step.py"]


@pytest.mark.parametrize("old, new", [
    ("network", "training.network"), ("config", "training.config"),
    ("batched", "training.batched"), ("matching", "training.matching"),
    ("collection", "training.collection"), ("scribbles", "training.scribbles"),
    ("silhouette", "training.silhouette"), ("segments", "output.segments"),
    ("snapping", "output.snapping"), ("scoring", "metrics.scoring"),
    ("evaluation", "metrics.evaluation"), ("model_selection", "metrics.model_selection"),
    ("presets", "family.presets"), ("regions", "family.regions"),
    ("resnet_fpn", "family.resnet_fpn"), ("embedding", "family.embedding"),
    ("embedding.colour", "family.embedding.colour"),
])
def test_old_import_paths_are_the_new_modules(old, new):
    assert (importlib.import_module(f"skdynaguide.{old}")
            is importlib.import_module(f"skdynaguide.{new}"))


def test_old_names_of_moved_functions_still_import():
    from skdynaguide.metrics import relabel_connected
    from skdynaguide.network import DynaGuideNet
    from skdynaguide.segments import output_segments
    from skdynaguide.training import full_size_labels, segment_image

    assert callable(relabel_connected) and callable(output_segments)
    assert callable(full_size_labels) and callable(segment_image)
    # a network pickled under its old path loads as the same class
    net = DynaGuideNet(n_features=4, n_clusters=3)
    assert type(pickle.loads(pickle.dumps(net))) is DynaGuideNet


def test_both_estimators_declare_shared_parameters_alike():
    from skdynaguide import DynaGuideSegmenter, InductiveSegmenter

    ours, theirs = (DynaGuideSegmenter._parameter_constraints,
                    InductiveSegmenter._parameter_constraints)
    shared = (set(ours) & set(theirs)) - {"coordinates"}
    assert {"min_size", "snap", "keep_edges", "final_resolution"} <= shared
    assert all(ours[name] is theirs[name] for name in shared)


def test_output_steps_follow_the_parameters():
    from skdynaguide.output import (FinalResolution, MergeSmallPieces, MinSize, Redraw,
                                    output_steps)

    assert output_steps(min_size=5, snap=2, keep_edges=0.9, final_resolution="full") == [
        FinalResolution("full"), MinSize(5), Redraw(2, 0.9), MinSize(5)]
    assert output_steps(min_size=None, snap=None) == []
    assert output_steps(min_size=5, snap=2, final_resolution="training", classes=True) == [
        FinalResolution("training"), MergeSmallPieces(5)]


def test_redraw_uses_the_edge_map_it_is_given():
    """The pipeline's edge map decides where the boundaries go: an edge map with its
    strongest column elsewhere than the image's colour edge moves them there."""
    from skdynaguide.output import OutputContext, Redraw

    image = np.zeros((4, 12, 3), np.float32)
    image[:, 6:] = 1.0
    guide = np.repeat([[0] * 6 + [1] * 6], 4, axis=0)
    edges = np.zeros((4, 12))
    edges[:, 4] = 1.0  # an edge two columns left of the colour edge
    by_colour = Redraw(3)(guide, OutputContext(image=image, guide=guide))
    by_map = Redraw(3)(guide, OutputContext(image=image, guide=guide, edges=edges))
    assert (by_colour[0] == [0] * 6 + [1] * 6).all()
    assert by_map[0, 3] != by_map[0, 5]
