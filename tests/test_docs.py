"""The documentation: every public object documented with an example, and a clean build."""
import importlib
import inspect
import pkgutil
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import skdynaguide

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _public_objects():
    """(module, name, object) for every class and function in a public module's __all__."""
    names = ["skdynaguide"] + [
        info.name for info in pkgutil.walk_packages(skdynaguide.__path__, "skdynaguide.")
        if not any(part.startswith("_") for part in info.name.split("."))
    ]
    seen = {}
    for module_name in names:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                seen.setdefault(f"{obj.__module__}.{obj.__qualname__}", (module_name, name, obj))
    return sorted(seen.values(), key=lambda item: f"{item[0]}.{item[1]}")


PUBLIC = _public_objects()


@pytest.mark.parametrize("module_name, name, obj", PUBLIC,
                         ids=[f"{m}.{n}" for m, n, _ in PUBLIC])
def test_public_object_has_a_numpydoc_docstring_with_examples(module_name, name, obj):
    docscrape = pytest.importorskip("numpydoc.docscrape")
    doc_class = docscrape.ClassDoc if inspect.isclass(obj) else docscrape.FunctionDoc
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpydoc warns on unknown or malformed sections
        doc = doc_class(obj, config={"show_class_members": False})
    assert doc["Summary"], f"{module_name}.{name} has no summary line"
    examples = "\n".join(doc["Examples"])
    assert ">>>" in examples, f"{module_name}.{name} has no Examples section with a doctest"


def _documented_names():
    """Fully qualified names listed in the autosummary tables of docs/api.rst."""
    found, current = set(), "skdynaguide"
    for line in (DOCS / "api.rst").read_text().splitlines():
        module = re.match(r"\.\. currentmodule:: (\S+)", line)
        if module:
            current = module.group(1)
        elif re.match(r"   [A-Za-z_][\w.]*$", line) and not line.strip().startswith(":"):
            found.add(f"{current}.{line.strip()}")
    return found


def test_api_reference_lists_every_public_object():
    def resolve(dotted):
        parts = dotted.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            try:
                obj = importlib.import_module(".".join(parts[:cut]))
            except ImportError:
                continue
            for part in parts[cut:]:
                obj = getattr(obj, part)
            return obj
        raise ImportError(dotted)

    documented = {id(resolve(name)) for name in _documented_names()}
    missing = [f"{m}.{n}" for m, n, obj in PUBLIC if id(obj) not in documented]
    assert not missing, f"add to docs/api.rst: {missing}"


@pytest.mark.slow  # builds the documentation and runs every gallery example
def test_docs_build_without_warnings_and_run_the_gallery(tmp_path):
    """``python -m sphinx -W`` on a copy of docs/ and examples/: warnings are errors."""
    pytest.importorskip("sphinx")
    pytest.importorskip("sphinx_gallery")
    pytest.importorskip("numpydoc")
    pytest.importorskip("matplotlib")
    tree = tmp_path / "src"
    shutil.copytree(DOCS, tree / "docs", ignore=shutil.ignore_patterns(
        "_build", "auto_examples", "generated", "sg_execution_times.rst"))
    shutil.copytree(ROOT / "examples", tree / "examples")
    if (ROOT / "benchmarks" / "RESULTS.md").exists():
        (tree / "benchmarks").mkdir()
        shutil.copy(ROOT / "benchmarks" / "RESULTS.md", tree / "benchmarks" / "RESULTS.md")
    out = tmp_path / "html"
    run = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         str(tree / "docs"), str(out)],
        capture_output=True, text=True, timeout=1200, cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-10000:]

    gallery = out / "auto_examples"
    ran = sorted(p.name for p in (tree / "docs" / "auto_examples" / "images").glob("*.png"))
    for script in sorted((ROOT / "examples").glob("plot_*.py")):
        assert (gallery / f"{script.stem}.html").exists(), script.name
        assert any(name.startswith(f"sphx_glr_{script.stem}_") for name in ran), \
            f"{script.name} drew no figure"
    # the scripts that need model weights are shown but not run
    for script in ("segformer_guidance", "diffseg_guidance"):
        assert (gallery / f"{script}.html").exists()
        assert not any(name.startswith(f"sphx_glr_{script}_") for name in ran)
    api = (out / "api.html").read_text()
    assert "DynaGuideSegmenter" in api and "plot_loss_history" in api
    assert (out / "generated" / "skdynaguide.DynaGuideSegmenter.html").exists()
    results = ROOT / "benchmarks" / "RESULTS.md"
    if results.exists():
        first_line = next(line for line in results.read_text().splitlines() if line.strip())
        assert first_line.strip("# ").split()[0] in (out / "benchmarks.html").read_text()
