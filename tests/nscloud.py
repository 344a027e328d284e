"""`kumo up` inside a network namespace the test makes, torn down to nothing.

Its bridges, taps and the CLI live in that namespace; the qdhcp-/qrouter-/qlb-
namespaces its agent makes have machine-wide names, so other clouds on a shared
machine have theirs next to ours. Only this cloud's are deleted: the ones its
agent recorded in its state dir (``agent/<host>/dhcp/<net>``, ``routers/qrouter-*``,
``lb/<lb>``), read before the cloud stops, also when the test failed.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import LiveCloud, free_port
from tests.multihost import delete_netns, netns_list


def owned_namespaces(data_dir: Path) -> set[str]:
    """The namespaces this cloud's agents made and that still exist (never another's)."""
    names = {f"qdhcp-{p.name}" for p in data_dir.glob("agent/*/dhcp/*") if p.is_dir()}
    names |= {p.name for p in data_dir.glob("agent/*/routers/qrouter-*")}
    names |= {f"qlb-{p.name}" for p in data_dir.glob("agent/*/lb/*") if p.is_dir()}
    return names & netns_list()


@contextmanager
def namespaced_cloud(ns: str, args: list[str], tmp_prefix: str = "kumo-ns-") -> Iterator[LiveCloud]:
    """A started cloud in the new namespace ``ns``; afterwards it, its VMs and helper
    processes, its own namespaces, ``ns`` and its temp dir are gone."""
    subprocess.run(["ip", "netns", "add", ns], check=True)
    subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
    tmp = Path(tempfile.mkdtemp(prefix=tmp_prefix))
    c = LiveCloud(tmp / "data", free_port(), netns=ns, args=args)
    try:
        c.start(timeout=60)
        yield c
    finally:
        mine = owned_namespaces(c.data_dir)
        c.stop()
        c.kill_vms()
        for name in sorted(mine):
            delete_netns(name)
        delete_netns(ns)
        shutil.rmtree(tmp, ignore_errors=True)
