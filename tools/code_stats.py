#!/usr/bin/env python
"""Long modules and long functions of a Python package, from its source (nothing is imported).

Usage::

    python tools/code_stats.py                      # the ddriqa package, default limits
    python tools/code_stats.py ddriqa --module-lines 400 --function-lines 80
    python tools/code_stats.py --format markdown    # tables for ARCHITECTURE.md
    python tools/code_stats.py --check              # exit status 1 when something is over a limit

A module's size is its number of lines (``wc -l``). A function's size is the number of lines
from its ``def`` to its last line, docstring included (decorators excluded); the ``body`` column
also gives the size without the docstring, which is what a reader has to follow. Methods are
named ``Class.method`` and nested functions ``outer.inner``.

Exit status: 0 (1 with ``--check`` when a module or a function is over its limit; 2 for a path
that is not a folder or a file that does not parse).
"""

from __future__ import annotations

import argparse
import ast
import sys
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MODULE_LINES = 400
DEFAULT_FUNCTION_LINES = 80


@dataclass(frozen=True)
class Function:
    module: str
    name: str
    line: int
    lines: int
    body: int  # lines without the docstring


def _module_name(path, root):
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _docstring_lines(node):
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str):
        return body[0].end_lineno - body[0].lineno + 1
    return 0


def functions(tree, module):
    """Every function and method of a parsed module, with qualified names."""
    out = []

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = child.end_lineno - child.lineno + 1
                name = prefix + child.name
                out.append(Function(module, name, child.lineno, lines, lines - _docstring_lines(child)))
                visit(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return out


def scan(package):
    """``(modules, functions)``: ``[(module, path, lines)]`` and ``[Function]`` of every ``.py`` file."""
    package = Path(package).resolve()
    modules, funcs = [], []
    for path in sorted(package.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        name = _module_name(path, package)
        try:
            tree = ast.parse(text, filename=str(path))
        except SyntaxError as exc:
            raise SystemExit(f"code_stats: cannot parse {path}: {exc}") from None
        modules.append((name, path, len(text.splitlines())))
        funcs.extend(functions(tree, name))
    return modules, funcs


def report(package, module_lines, function_lines, fmt="text"):
    """The report text and whether anything is over a limit."""
    modules, funcs = scan(package)
    big_modules = sorted((m for m in modules if m[2] > module_lines), key=lambda m: -m[2])
    long_funcs = sorted((f for f in funcs if f.lines > function_lines), key=lambda f: -f.lines)
    rows = []
    total = sum(m[2] for m in modules)
    if fmt == "markdown":
        rows.append(f"{len(modules)} modules, {total} lines, {len(funcs)} functions.\n")
        rows.append(f"Modules over {module_lines} lines:\n")
        rows.append("| module | lines |")
        rows.append("|---|---:|")
        rows += [f"| `{name}` | {n} |" for name, _, n in big_modules]
        rows.append(f"\nFunctions over {function_lines} lines (body: without the docstring):\n")
        rows.append("| function | lines | body |")
        rows.append("|---|---:|---:|")
        rows += [f"| `{f.module}.{f.name}` (line {f.line}) | {f.lines} | {f.body} |" for f in long_funcs]
    else:
        rows.append(f"{len(modules)} modules, {total} lines, {len(funcs)} functions")
        rows.append(f"modules over {module_lines} lines: {len(big_modules)}")
        rows += [f"  {n:6d}  {name}" for name, _, n in big_modules]
        rows.append(f"functions over {function_lines} lines: {len(long_funcs)} (lines / body without docstring)")
        rows += [f"  {f.lines:4d} {f.body:4d}  {f.module}.{f.name}  (line {f.line})" for f in long_funcs]
    return "\n".join(rows), bool(big_modules or long_funcs)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_package = Path(__file__).resolve().parents[1] / "ddriqa"
    parser.add_argument("package", nargs="?", default=str(default_package),
                        help="package folder (default: the repository's ddriqa/)")
    parser.add_argument("--module-lines", type=int, default=DEFAULT_MODULE_LINES,
                        help=f"list modules longer than this (default {DEFAULT_MODULE_LINES})")
    parser.add_argument("--function-lines", type=int, default=DEFAULT_FUNCTION_LINES,
                        help=f"list functions longer than this (default {DEFAULT_FUNCTION_LINES})")
    parser.add_argument("--format", choices=["text", "markdown"], default="text")
    parser.add_argument("--check", action="store_true", help="exit with status 1 when anything is listed")
    args = parser.parse_args(argv)
    if not Path(args.package).is_dir():
        print(f"code_stats: {args.package} is not a folder", file=sys.stderr)
        return 2
    text, over = report(args.package, args.module_lines, args.function_lines, args.format)
    print(text)
    return 1 if (args.check and over) else 0


if __name__ == "__main__":
    sys.exit(main())
