"""Sphinx configuration: numpydoc docstrings, autosummary API pages, sphinx-gallery.

Build with ``python -m sphinx -W -b html docs docs/_build/html`` (``-W``: warnings are
errors; the gallery runs every ``examples/plot_*.py``). Paths are relative to this file,
so a copy of ``docs/`` next to copies of ``examples/`` and ``benchmarks/`` builds the same
(``tests/test_docs.py`` builds such a copy, leaving the source tree clean).
"""
import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import skdynaguide  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

project = "skdynaguide"
author = "the skdynaguide developers"
copyright = "the skdynaguide developers"
release = skdynaguide.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
html_static_path = ["_static"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "auto_examples/*.ipynb",
                    "auto_examples/*.py", "auto_examples/*.zip"]
html_theme = "alabaster"
html_title = f"skdynaguide {release}"

autosummary_generate = True
autodoc_default_options = {"members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": str(HERE / "auto_examples"),
    # plot_*.py run when the docs build; the SegFormer / DiffSeg scripts (which need model
    # weights) are rendered without running
    "filename_pattern": r"/plot_",
    "abort_on_example_error": True,
    "download_all_examples": False,
    "reset_modules": ("matplotlib",),
    "min_reported_time": 1,
    "remove_config_comments": True,
}

RESULTS = ROOT / "benchmarks" / "RESULTS.md"


def _benchmarks_page(app, docname, source):
    """Append ``benchmarks/RESULTS.md`` to the benchmarks page, verbatim, when it exists."""
    if docname != "benchmarks":
        return
    if RESULTS.exists():
        text = RESULTS.read_text(encoding="utf-8")
        block = "\n".join("   " + line if line.strip() else "" for line in text.splitlines())
        source[0] += (
            "\nThe current ``benchmarks/RESULTS.md``, verbatim:\n\n"
            ".. code-block:: markdown\n\n" + block + "\n"
        )
    else:
        source[0] += "\n``benchmarks/RESULTS.md`` is not in this copy of the sources.\n"


def setup(app):
    app.connect("source-read", _benchmarks_page)
