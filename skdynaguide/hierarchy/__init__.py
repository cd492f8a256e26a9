"""Boundary hierarchies: regions nested by the strength of the boundaries between them.

:class:`BoundaryHierarchy` holds the tree of one image (superpixels of its boundary map
merged up to the whole image) and gives its cuts at a threshold or a number of segments;
:func:`build_hierarchy` builds it from an image and a boundary detector
(:mod:`skdynaguide.boundaries`).
"""
from .build import build_hierarchy, hierarchy_from_map
from .tree import METHODS, BoundaryHierarchy, region_adjacency

__all__ = ["BoundaryHierarchy", "METHODS", "build_hierarchy", "hierarchy_from_map",
           "region_adjacency"]
