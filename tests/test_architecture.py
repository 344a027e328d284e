"""The layer contracts bite: adding a back-edge to a copy of the tree fails lint-imports.

pyproject.toml's [tool.importlinter] contracts are what ``make test`` checks; each case
here injects one forbidden import into a scratch copy of ``src/kumo`` and expects the
contract that names it to break (and the clean copy to pass).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).parent / "lint-imports"

BACK_EDGES = {
    # module that gains the import: (import line, contract expected to break)
    "store imports the API": ("kumo/store/objects.py", "import kumo.api.app", "layers:"),
    "agent imports the store": ("kumo/agent/host.py", "import kumo.store", "only over HTTP"),
    "face imports another face": ("kumo/api/openstack/image/app.py",
                                  "import kumo.api.openstack.network.app", "independent faces"),
    "controller imports a face": ("kumo/control/gc.py", "import kumo.api.openstack.compute.app",
                                  "layers:"),
    "driver imports the agent": ("kumo/drivers/netns.py", "import kumo.agent.main", "layers:"),
    "core imports a controller": ("kumo/core/actor.py", "import kumo.control.gc", "layers:"),
    "a cycle between siblings": ("kumo/model/identity.py", "import kumo.model.registry",
                                 "no import cycles"),
}


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT), str(tree / "pyproject.toml"), "--no-cache"],
                          cwd=tree, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(tree / "src"), "PATH": "/usr/bin:/bin"})


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = tmp_path_factory.mktemp("arch")
    shutil.copytree(REPO / "src" / "kumo", tree / "src" / "kumo",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tree / "pyproject.toml")
    return tree


def test_the_tree_keeps_its_contracts(scratch: Path) -> None:
    out = lint(scratch)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]


@pytest.mark.parametrize("case", sorted(BACK_EDGES))
def test_a_back_edge_breaks_a_contract(scratch: Path, case: str) -> None:
    rel, line, contract = BACK_EDGES[case]
    path = scratch / "src" / rel
    original = path.read_text()
    path.write_text(original + f"\n{line}  # injected by test_architecture\n")
    try:
        out = lint(scratch)
    finally:
        path.write_text(original)
    assert out.returncode != 0, f"{case}: lint-imports passed"
    assert contract in broken_contracts(out.stdout), out.stdout[-3000:]


def broken_contracts(report: str) -> str:
    """The names of the broken contracts (long names wrap over lines in the report)."""
    flat = " ".join(report.split())
    parts = re.split(r"(KEPT|BROKEN)", flat)
    return " | ".join(name for name, verdict in zip(parts, parts[1:], strict=False)
                      if verdict == "BROKEN")
