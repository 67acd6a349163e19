"""The folders are the layers: imports run one way, from the faces down to the core, with no
loops; the top level holds only the faces; the modules' old import paths still work."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "genzoo"

# lower layers never import higher ones; a layer may import itself and anything below
LAYERS = {"core": 0, "data": 1, "figures": 2, "evaluators": 3, "training": 3, "reports": 4}
FACES = {"cli", "api", "compare", "testing", "layers", "__main__"}
FACE_RANK = 5


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def rank(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1:
        return 0  # genzoo/__init__: version, GenzooError, hookimpl (it imports only core)
    if parts[1] in LAYERS:
        return LAYERS[parts[1]]
    assert parts[1] in FACES, f"{module} is at the top level but is not a face"
    return FACE_RANK


def _type_checking_only(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def imports(path: Path) -> set[str]:
    """The genzoo modules ``path`` imports anywhere (also inside functions), except imports
    made for type checkers only."""
    tree = ast.parse(path.read_text())
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if _type_checking_only(node, parents):
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and node.module.split(".")[0] == "genzoo":
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in MODULES else node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "genzoo")
    return found


GRAPH = {name: imports(path) - {name} for name, path in MODULES.items()}


def test_the_top_level_holds_only_the_faces():
    files = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    # a face large enough to split is a package of its own (genzoo/testing/)
    assert files | (folders - set(LAYERS)) == FACES, sorted(files | folders)
    assert set(LAYERS) <= folders and not files & folders


def test_imports_run_one_way_from_the_faces_down_to_the_core():
    upward = sorted(f"{a} imports {b}" for a, deps in GRAPH.items() for b in deps
                    if b in MODULES and rank(b) > rank(a))
    assert not upward, upward
    # the rule, said outright: the core and training know no report and no CLI
    for name, deps in GRAPH.items():
        if name.startswith(("genzoo.core", "genzoo.training")):
            assert not {d for d in deps if d.startswith(("genzoo.reports", "genzoo.cli",
                                                         "genzoo.compare"))}, name
    # evaluators and training are siblings: neither imports the other
    for a, b in (("evaluators", "training"), ("training", "evaluators")):
        crossing = sorted(f"{n} imports {d}" for n, deps in GRAPH.items()
                          if n.startswith(f"genzoo.{a}") for d in deps
                          if d.startswith(f"genzoo.{b}"))
        assert not crossing, crossing


def test_no_import_loops_among_genzoos_modules():
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    loops: list[list[str]] = []
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in GRAPH.get(v, ()):
            if w not in MODULES or w == "genzoo":
                continue  # the package root imports only core.errors and core.hookspecs
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                loops.append(sorted(component))

    for v in MODULES:
        if v not in index:
            visit(v)
    assert not loops, loops


def test_the_names_at_the_top_are_the_classes_themselves_and_cost_no_torch():
    import genzoo
    from genzoo.core.model import Model
    from genzoo.evaluators.base import Evaluator

    assert genzoo.Model is Model and genzoo.Evaluator is Evaluator
    done = subprocess.run([sys.executable, "-c", "import sys, genzoo; "
                           "print('torch' in sys.modules)"], capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr
    with pytest.raises(AttributeError):
        genzoo.no_such_name  # noqa: B018


def test_every_stable_import_path_in_the_plugin_guide_exists():
    import re

    guide = (PACKAGE.parent / "docs" / "plugins.md").read_text()
    table = guide.split("<!-- stable-api -->")[1].split("<!-- /stable-api -->")[0]
    names = [n for row in table.splitlines()[2:] for n in
             re.findall(r"`(genzoo[\w.]*)`", row.split("|")[1])]
    assert len(names) > 20
    for dotted in names:
        try:
            importlib.import_module(dotted)
            continue
        except ModuleNotFoundError:
            pass
        module, _, attr = dotted.rpartition(".")
        assert hasattr(importlib.import_module(module), attr), dotted


def _plain_signature(obj) -> str:
    """``(a, b=1, *, c)``: names and defaults, no annotations, no self/cls."""
    import inspect

    parts, star = [], False
    for p in inspect.signature(obj).parameters.values():
        if p.name in ("self", "cls"):
            continue
        if p.kind == p.KEYWORD_ONLY and not star:
            parts.append("*")
            star = True
        prefix = "*" if p.kind == p.VAR_POSITIONAL else "**" if p.kind == p.VAR_KEYWORD else ""
        parts.append(prefix + p.name + ("" if p.default is p.empty else f"={p.default!r}"))
    return "(" + ", ".join(parts) + ")"


def test_every_documented_signature_matches_the_code():
    import re

    guide = (PACKAGE.parent / "docs" / "plugins.md").read_text()
    block = guide.split("<!-- signatures -->")[1].split("<!-- /signatures -->")[0]
    lines = [line for line in block.splitlines() if line.startswith("genzoo.")]
    assert len(lines) >= 20
    for line in lines:
        m = re.match(r"(genzoo[\w.]*)(\(.*?\))(?:\s{2,}|$)", line)
        assert m, line
        dotted, documented = m.groups()
        parts = dotted.split(".")
        obj = importlib.import_module(parts[0])
        for part in parts[1:]:
            obj = getattr(obj, part)
        assert _plain_signature(obj) == documented, (dotted, _plain_signature(obj))
