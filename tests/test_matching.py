import numpy as np
import pytest
import torch

from skdynaguide.training.matching import (
    GuideMatching,
    HungarianMatching,
    IndexMatching,
    MajorityMatching,
    SortedMatching,
    overlap_counts,
    resolve_matching,
)

# guide: three segments in columns; clusters: the network currently uses channels 7 and 2
GUIDE = torch.tensor([[0, 0, 1, 1, 2, 2]] * 2)
CLUSTERS = torch.tensor([[7, 7, 7, 2, 2, 2]] * 2)


def test_overlap_counts():
    counts = overlap_counts(GUIDE, CLUSTERS, 3, 10)
    assert counts.shape == (3, 10)
    assert counts[0, 7] == 4 and counts[1, 7] == 2 and counts[1, 2] == 2 and counts[2, 2] == 4
    assert counts.sum() == GUIDE.numel()


def test_index_is_the_literal_formula():
    assert IndexMatching()(GUIDE, 3, CLUSTERS, 10).tolist() == GUIDE.tolist()
    assert IndexMatching()(GUIDE, 3, CLUSTERS, 2).tolist() == (GUIDE % 2).tolist()


def test_sorted_is_the_authors_code():
    # present clusters sorted: [2, 7]; guide k -> present[k mod 2]
    target = SortedMatching()(GUIDE, 3, CLUSTERS, 10)
    assert target[0].tolist() == [2, 2, 7, 7, 2, 2]


def test_majority_maps_each_segment_to_its_dominant_cluster():
    target = MajorityMatching()(GUIDE, 3, CLUSTERS, 10)
    # segment 1 is split 2/2: argmax takes the lower channel id (2)
    assert target[0].tolist() == [7, 7, 2, 2, 2, 2]


def test_hungarian_is_one_to_one_and_follows_the_network():
    target = HungarianMatching()(GUIDE, 3, CLUSTERS, 10)
    row = target[0].tolist()
    assert row[0] == 7 and row[4] == 2  # the dominant clusters keep their channel
    assert len({row[0], row[2], row[4]}) == 3  # three segments, three distinct channels


def test_hungarian_falls_back_to_majority_when_segments_outnumber_channels():
    guide = torch.tensor([[0, 1, 2, 3]])
    clusters = torch.tensor([[0, 0, 1, 1]])
    target = HungarianMatching()(guide, 4, clusters, 2)
    # two segments are matched one-to-one, the other two join their majority channel
    assert target.tolist() == clusters.tolist()


def test_every_mode_returns_valid_channels():
    rng = np.random.default_rng(0)
    guide = torch.as_tensor(rng.integers(0, 12, (9, 11)))
    clusters = torch.as_tensor(rng.integers(0, 5, (9, 11)))
    for name in GuideMatching.registry.names():
        target = resolve_matching(name)(guide, 12, clusters, 8)
        assert target.shape == guide.shape and target.dtype == torch.int64
        assert int(target.min()) >= 0 and int(target.max()) < 8


def test_resolve_matching():
    assert isinstance(resolve_matching("hungarian"), HungarianMatching)
    with pytest.raises(ValueError, match="unknown matching 'greedy'"):
        resolve_matching("greedy")
    with pytest.raises(TypeError, match="GuideMatching instance"):
        resolve_matching(1)
