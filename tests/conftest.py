"""Fixtures of the test suite; the plain helpers they build on are in ``helpers.py``.

Every test also runs in its own temporary working directory: see ``conftest.py`` at the
repository root.
"""
import pytest

from helpers import FAST, make_quadrants


@pytest.fixture
def quadrants():
    return make_quadrants()


@pytest.fixture
def fast_params():
    return dict(FAST)
