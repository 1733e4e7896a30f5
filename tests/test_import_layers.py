"""The package's layers import only downward, and nothing imports the command line but itself.

Every ``import`` / ``from ... import`` of every module is read (module-level and inside
functions alike, since both are dependencies), and each sub-package must only reach into
sub-packages of the same or a lower layer. Within a layer, the module graph of top-level imports
must be acyclic (an import cycle breaks as soon as someone imports the modules in the other
order).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ddriqa"

#: layer of each top-level module or sub-package of ddriqa (lower layers never import higher ones)
LAYERS = {
    "errors": 0, "device": 0, "io": 0, "data": 0,
    "degradations": 1,
    "datasets": 2, "models": 2,
    "sr": 3, "features": 3,
    "classification": 4,
    "analysis": 5, "evaluation": 5, "training": 5,
    "jobs": 6,
    "cli": 7,
}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def _imports(path, name, top_level_only=False):
    """Dotted ddriqa modules imported by the file (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    nodes = tree.body if top_level_only else ast.walk(tree)
    out = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.split(".")[0] == "ddriqa")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.split(".")[0] == "ddriqa":
                out.add(mod)
                # "from ddriqa.x import y" may import the submodule ddriqa.x.y
                out.update(f"{mod}.{a.name}" for a in node.names)
    return out


def _unit(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


MODULES = dict(_modules())


def test_every_unit_has_a_layer():
    units = {_unit(m) for m in MODULES} - {None}
    assert not units - set(LAYERS), f"give these a layer in LAYERS: {sorted(units - set(LAYERS))}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _unit(m)))
def test_imports_go_downward(module):
    own = _unit(module)
    bad = []
    for target in _imports(MODULES[module], module):
        unit = _unit(target)
        if unit is None or unit not in LAYERS or unit == own:
            continue
        if LAYERS[unit] > LAYERS[own]:
            bad.append(f"{target} (layer {LAYERS[unit]} > {own}'s {LAYERS[own]})")
    assert not bad, f"{module} imports upward: {bad}"


def test_only_the_cli_imports_the_cli():
    offenders = sorted(m for m in MODULES if _unit(m) not in ("cli", None)
                       and any(_unit(t) == "cli" for t in _imports(MODULES[m], m)))
    assert not offenders, f"library modules import ddriqa.cli: {offenders}"


def _find_cycle(graph):
    """One cycle of a ``{node: set of nodes}`` graph as a list (first node repeated), or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_import_cycle():
    graph = {m: {t for t in _imports(p, m, top_level_only=True) if t in MODULES and t != m}
             for m, p in MODULES.items()}
    cycle = _find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_checks_see_a_cycle(tmp_path):
    """The checks are not vacuous: two modules importing each other are caught."""
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("from ddriqa.b import x\n")
    b.write_text("def f():\n    import ddriqa.cli\nimport ddriqa.a\n")
    graph = {"ddriqa.a": _imports(a, "ddriqa.a", top_level_only=True) & {"ddriqa.b"},
             "ddriqa.b": _imports(b, "ddriqa.b", top_level_only=True)}
    assert _find_cycle(graph) == ["ddriqa.a", "ddriqa.b", "ddriqa.a"]
    assert "ddriqa.cli" in _imports(b, "ddriqa.b") and "ddriqa.cli" not in _imports(b, "ddriqa.b", True)


def test_architecture_page_names_every_layer():
    """ARCHITECTURE.md describes every sub-package the layer table knows."""
    text = (PACKAGE.parent / "ARCHITECTURE.md").read_text(encoding="utf-8")
    absent = [unit for unit in LAYERS if f"`{unit}/`" not in text and f"`{unit}.py`" not in text]
    assert not absent, f"ARCHITECTURE.md does not mention {absent}"


def test_code_stats_finds_long_functions(tmp_path, monkeypatch):
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("code_stats", PACKAGE.parent / "tools" / "code_stats.py")
    code_stats = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "code_stats", code_stats)  # dataclasses look their module up
    spec.loader.exec_module(code_stats)
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    body = "\n".join(f"    x{i} = {i}" for i in range(90))
    (pkg / "__init__.py").write_text("")
    (pkg / "mod.py").write_text(f'class A:\n    def long(self):\n        """Doc."""\n{body.replace("    ", "        ")}\n'
                                "\ndef short():\n    return 1\n")
    modules, funcs = code_stats.scan(pkg)
    assert [m[0] for m in modules] == ["pkg", "pkg.mod"]
    long = {f.name: f for f in funcs}
    assert long["A.long"].lines == 92 and long["A.long"].body == 91 and long["short"].lines == 2
    text, over = code_stats.report(pkg, module_lines=400, function_lines=80)
    assert over and "pkg.mod.A.long" in text and "short" not in text
    assert code_stats.main([str(pkg), "--check"]) == 1
    assert code_stats.main([str(pkg), "--function-lines", "100", "--check"]) == 0
