"""The code's shape rules (docs/architecture.md): small modules, short functions.

A module over 400 lines needs a one-line reason near its top (`# long module: …`);
a function over 60 lines has none: split it. Both limits keep every behaviour's
owner readable in one sitting.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "kumo"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
REASON_MARKER = "# long module:"


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def _long_functions(path: Path, root: Path = SRC.parent) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            length = (node.end_lineno or node.lineno) - first + 1
            if length > MAX_FUNCTION_LINES:
                found.append(f"{path.relative_to(root)}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_modules_are_small_or_say_why() -> None:
    offenders = []
    for path in _modules():
        lines = path.read_text().splitlines()
        if len(lines) > MAX_MODULE_LINES and not any(
                line.startswith(REASON_MARKER) for line in lines[:15]):
            offenders.append(f"{path.relative_to(SRC.parent)} ({len(lines)} lines)")
    assert not offenders, "modules over 400 lines without a reason: " + ", ".join(offenders)


def test_functions_are_short() -> None:
    # Parsed in a fresh interpreter: CPython 3.11.7's AST recursion-depth bookkeeping can be
    # left inconsistent by earlier tests in this process ("AST constructor recursion depth
    # mismatch", gh-106905), which would fail this check for a reason not in the code.
    probe = ("import json; from tests.test_shape import _modules, _long_functions; "
             "print(json.dumps([f for p in _modules() for f in _long_functions(p)]))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=SRC.parents[1], check=True,
                         capture_output=True, text=True, timeout=120).stdout
    offenders = json.loads(out)
    assert not offenders, "functions over 60 lines: " + "; ".join(offenders)


@pytest.mark.parametrize("body_lines, expected", [(60, 1), (58, 0)])
def test_the_function_rule_can_fail(tmp_path: Path, body_lines: int, expected: int) -> None:
    """The checker itself can fail: a 62-line function is caught, a 60-line one is not."""
    path = tmp_path / "probe.py"
    path.write_text("def f():\n" + "    x = 1\n" * body_lines + "    return x\n")
    assert len(_long_functions(path, tmp_path)) == expected
