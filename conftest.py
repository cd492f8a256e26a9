"""pytest set-up shared by the tests in ``tests/`` and the doctests of ``skdynaguide/``.

It sits at the repository root (outside the installed package) so that it reaches both:
every test and doctest runs in its own temporary directory and leaves no example class
registered behind it, and a test run writes nothing into the folder it was started from.
"""
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
#: Where hypothesis keeps its cache during a run (see ``pytest_configure``).
_HYPOTHESIS_HOME = pytest.StashKey[str]()


@pytest.fixture(autouse=True)
def _in_a_temporary_directory(tmp_path, monkeypatch):
    """Run every test and doctest with its own empty temporary directory as the working
    directory (the test's ``tmp_path``).

    The command line writes to ``skdynaguide-output/`` and other relative paths by default;
    a test run from a folder that already holds such outputs (made with other options) would
    otherwise read or overwrite them, and a run would leave files behind. Tests that need the
    repository's own files locate them from ``__file__``, never from the working directory.
    """
    monkeypatch.chdir(tmp_path)



def _registries():
    """The registry of every pluggable family defined so far."""
    from skdynaguide._registry import Pluggable

    found, stack = {}, [Pluggable]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if "registry" in vars(cls):
            found[id(cls.registry)] = cls.registry
    return list(found.values())


def _module_level(cls):
    return getattr(sys.modules.get(cls.__module__), cls.__qualname__, None) is cls


@pytest.fixture(autouse=True)
def _registered_examples_removed():
    """Unregister, after each test and doctest, the classes it registered by name.

    The docstring examples and some tests show a new member of a family by defining one
    (``class AllZero(GuideMatching, name="all-zero-example")``); left registered, it would
    reach the tests that go through every registered name, depending on which ran first.
    Members defined at module level (the package's own, also when a test imports their
    module first) stay.
    """
    before = {id(registry): dict(registry._classes) for registry in _registries()}
    yield
    for registry in _registries():
        known = before.get(id(registry), {})
        for name, cls in list(registry._classes.items()):
            if name not in known and not _module_level(cls):
                del registry._classes[name]


def pytest_configure(config):
    """Keep hypothesis's cache out of the starting folder.

    hypothesis caches the constants it finds in the code under test in ``.hypothesis/`` of
    the working directory it was imported in, as early as collection; a temporary folder,
    removed at the end of the run, holds it instead (the example database is already off,
    see ``tests/test_properties.py``).
    """
    try:
        from hypothesis.configuration import set_hypothesis_home_dir
    except ImportError:  # hypothesis is in the test extra; without it nothing is written
        return
    config.stash[_HYPOTHESIS_HOME] = tempfile.mkdtemp(prefix="skdynaguide-hypothesis-")
    set_hypothesis_home_dir(config.stash[_HYPOTHESIS_HOME])


def pytest_unconfigure(config):
    home = config.stash.get(_HYPOTHESIS_HOME, None)
    if home is not None:
        shutil.rmtree(home, ignore_errors=True)


def pytest_ignore_collect(collection_path, config):
    """Collect only the ``testpaths`` of ``setup.cfg`` when pytest is given this folder.

    ``python -m pytest /path/to/skdynaguide`` (from any folder) then runs what a plain
    ``python -m pytest`` runs in it, not the doctests of this file, the gallery scripts of
    ``examples/`` or the benchmark scripts, which would run whole experiments on import.
    A path named on the command line is always collected.
    """
    if collection_path.parent == ROOT and collection_path.name not in config.getini("testpaths"):
        return True
    return None
