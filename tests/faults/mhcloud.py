"""A real 3-host cloud for the fault suite (tests/multihost.py: hosts in namespaces on a
198.18.0.0/15 underlay, Linux bridges and VXLAN, dnsmasq, QEMU guests under TCG), and
the ways a test reads it: `kumo doctor` and `kumo trace` through the real CLI inside the
API namespace, the native API through kumo's own client there.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..e2e.vmhelpers import wait_for
from ..multihost import VENV_BIN, MultiHost

KUMO = str(VENV_BIN / "kumo")
NATIVE = r"""
import json, sys
from kumo.client.cloud import Client
method, path, body, headers = json.loads(sys.argv[1])
with Client.from_cloud("kumo") as c:
    r = c.http.request(method, c.base + path, headers={"X-Auth-Token": c.token, **headers},
                       content=None if body is None else json.dumps(body))
    print(json.dumps({"status": r.status_code, "body": r.json() if r.content else None}))
"""


class FaultCloud(MultiHost):
    """MultiHost with a second source tree an agent can be started from (an old build)."""

    agent_pythonpath: str | None = None

    def _env(self, **extra: str) -> dict[str, str]:
        env = super()._env(**extra)
        if self.agent_pythonpath is not None:
            env["PYTHONPATH"] = self.agent_pythonpath
        return env

    # ---- the control plane, from inside the API namespace -------------------------
    def doctor(self, *args: str) -> tuple[int, dict[str, Any]]:
        p = self.exec_in("api", [KUMO, "doctor", "-o", "json", *args], check=False,
                         timeout=120)
        assert p.returncode in (0, 1), p.stderr[-2000:]
        return p.returncode, json.loads(p.stdout)

    def doctor_text(self, *args: str) -> str:
        return self.exec_in("api", [KUMO, "doctor", *args], check=False).stdout

    def trace(self, target: str, text: bool = False) -> Any:
        p = self.exec_in("api", [KUMO, "trace", target, *([] if text else ["-o", "json"])])
        return p.stdout if text else json.loads(p.stdout)

    def native(self, method: str, path: str, body: Any = None,
               headers: dict[str, str] | None = None) -> tuple[int, Any]:
        arg = json.dumps([method, path, body, headers or {}])
        out = json.loads(self.exec_in("api", [sys.executable, "-c", NATIVE, arg]).stdout)
        return out["status"], out["body"]

    def finding(self, check: str, match: Callable[[dict[str, Any]], bool] = lambda f: True,
                *args: str, timeout: float = 60) -> dict[str, Any]:
        """Wait until `kumo doctor` reports a finding of ``check`` that ``match``es."""
        deadline = time.time() + timeout
        last: dict[str, Any] = {}
        while time.time() < deadline:
            rc, last = self.doctor(*args)
            for f in last["findings"]:
                if f["check"] == check and match(f):
                    assert rc == 1  # findings: exit status 1 for scripts
                    return f
            time.sleep(1)
        raise AssertionError(f"no {check} finding within {timeout}s: "
                             f"{json.dumps(last.get('findings'), indent=1)[:3000]}")

    # ---- a host's kernel and files -----------------------------------------------
    def fdb(self, host: int, dev: str) -> set[tuple[str, str]]:
        p = self.exec_in(host, ["bridge", "-j", "fdb", "show", "dev", dev], check=False)
        if p.returncode != 0 or not p.stdout.strip():
            return set()
        return {(e["mac"], e["dst"]) for e in json.loads(p.stdout) if e.get("dst")}

    def master(self, host: int, dev: str) -> str | None:
        p = self.exec_in(host, ["ip", "-j", "link", "show", "dev", dev], check=False)
        return json.loads(p.stdout)[0].get("master") if p.returncode == 0 else None

    def old_build(self, version: str) -> str:
        """A copy of this kumo's source with another VERSION: an agent of an old build."""
        import kumo

        root = self.tmp_dir / f"kumo-{version}"
        shutil.copytree(Path(kumo.__file__).parent, root / "kumo",
                        ignore=shutil.ignore_patterns("__pycache__"))
        vfile = root / "kumo" / "common" / "version.py"
        vfile.write_text(vfile.read_text().replace('VERSION = "', f'VERSION = "{version}"  #'))
        return str(root)


def wait(what: str, cond: Callable[[], Any], timeout: float = 60) -> Any:
    return wait_for(what, cond, timeout)


def rogue_dhcp(netns: str) -> subprocess.Popen[bytes]:
    """A process holding UDP port 67 in a DHCP namespace (a second DHCP server)."""
    code = ("import socket, time; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
            "s.bind(('0.0.0.0', 67)); print('bound', flush=True); time.sleep(600)")
    p = subprocess.Popen(["ip", "netns", "exec", netns, sys.executable, "-c", code],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert p.stdout is not None and b"bound" in p.stdout.readline()
    return p
