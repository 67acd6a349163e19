"""Every hook is documented in docs/plugins.md and exercised by a test; the docs' code runs."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

from genzoo.core import hookspecs
from genzoo.core.plugins import new_plugin_manager

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "plugins.md"


def hook_names() -> list[str]:
    """The hooks as pluggy sees them, cross-checked against the functions in hookspecs.py."""
    pm = new_plugin_manager()
    from_pluggy = sorted(n for n in vars(pm.hook) if not n.startswith("_"))
    marker = f"{hookspecs.PROJECT}_spec"
    from_module = sorted(n for n, f in vars(hookspecs).items() if hasattr(f, marker))
    assert from_pluggy == from_module
    return from_pluggy


def test_there_are_hooks_and_each_has_a_docstring():
    names = hook_names()
    assert {"genzoo_register_models", "genzoo_register_datasets",
            "genzoo_register_evaluators"} <= set(names)
    for name in names:
        assert (getattr(hookspecs, name).__doc__ or "").strip(), f"{name} has no docstring"


@pytest.mark.parametrize("hook", hook_names())
def test_every_hook_is_documented_with_an_example(hook):
    text = DOCS.read_text()
    assert f"### `{hook}`" in text, f"docs/plugins.md has no section for {hook}"
    examples = python_blocks(text)
    assert any(re.search(rf"^def {hook}\(", code, re.M) for code in examples), \
        f"docs/plugins.md has no runnable example implementing {hook}"


@pytest.mark.parametrize("hook", hook_names())
def test_every_hook_is_exercised_by_a_test(hook):
    this = Path(__file__).name
    users = [p.name for p in (ROOT / "tests").glob("test_*.py")
             if p.name != this and re.search(rf"\bdef {hook}\(", p.read_text())]
    assert users, f"no test implements {hook}"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)


def test_the_docs_code_runs_as_a_plugin_that_passes_the_conformance_checks(monkeypatch):
    blocks = python_blocks(DOCS.read_text())
    assert len(blocks) >= 5
    module = types.ModuleType("genzoo_docs_example")
    # dataclass annotations are resolved through sys.modules, as for any imported module
    monkeypatch.setitem(sys.modules, module.__name__, module)
    for i, code in enumerate(blocks):
        try:
            exec(compile(code, f"docs/plugins.md block {i + 1}", "exec"), module.__dict__)
        except Exception as exc:
            raise AssertionError(f"docs/plugins.md python block {i + 1} fails: "
                                 f"{type(exc).__name__}: {exc}") from exc
    ns = module.__dict__
    # the blocks registered the model, dataset and evaluator, and used them end to end
    assert ns["registry"].model("isotropic") is ns["Isotropic"]
    assert ns["scores"]["scale-error"].metrics["scale_error"]
