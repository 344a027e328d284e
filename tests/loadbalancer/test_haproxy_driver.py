"""drivers/haproxy against a real HAProxy in a namespace this test makes (VIP and members
on its loopback): start, runtime member changes (no new worker), seamless reload (same
master, new worker), adoption by a fresh driver (the agent restarted: nothing restarts),
restart after the master dies, stop removes files and namespace."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kumo.drivers import netns as nsmod
from kumo.drivers.haproxy import Haproxy
from kumo.drivers.haproxy_config import LbPlan, ListenerPlan, MemberPlan, MonitorPlan, PoolPlan
from kumo.drivers.procs import alive

from . import backends

pytestmark = pytest.mark.skipif(backends.can_netns() is not None,
                                reason=str(backends.can_netns()))
VIP, A, B = "10.77.0.1", "10.77.0.2", "10.77.0.3"


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[str, str, Haproxy]]:
    lb_id = str(uuid.uuid4())
    ns = f"qlb-{lb_id}"
    backends.make_ns(ns, [VIP, A, B])
    h = Haproxy(tmp_path / "lb")
    procs = []
    try:
        procs = [backends.start_backend(ns, A, 8080, "A"),
                 backends.start_backend(ns, B, 8080, "B")]
        yield lb_id, ns, h
    finally:
        for p in procs:
            p.kill()
            p.wait()
        h.stop(lb_id, ns)
        backends.delete_ns(ns)


def _plan(lb_id: str, members: list[MemberPlan], limit: int = -1) -> LbPlan:
    lid, pid = str(uuid.UUID(int=1)), str(uuid.UUID(int=2))
    mon = MonitorPlan("HTTP", 1, 1, 1, 2)
    return LbPlan(lb_id, VIP, (ListenerPlan(lid, "HTTP", 80, pid, connection_limit=limit),),
                  (PoolPlan(pid, "HTTP", "ROUND_ROBIN", tuple(members), mon),))


def test_lifecycle(lab: tuple[str, str, Haproxy]) -> None:
    lb_id, ns, h = lab
    ma = MemberPlan(str(uuid.UUID(int=10)), A, 8080)
    mb = MemberPlan(str(uuid.UUID(int=11)), B, 8080)
    one = _plan(lb_id, [ma])
    assert h.ensure(one, ns, None) == "started"
    master, worker = h.master(lb_id), h._worker(lb_id)
    assert master and worker and {backends.get(ns, f"http://{VIP}/") for _ in range(3)} == {"A"}
    two = _plan(lb_id, [ma, mb])
    assert h.ensure(two, ns, one) == "runtime"
    assert h._worker(lb_id) == worker  # no reload
    assert {backends.get(ns, f"http://{VIP}/") for _ in range(4)} == {"A", "B"}
    assert h.ensure(_plan(lb_id, [mb]), ns, two) == "runtime"
    assert {backends.get(ns, f"http://{VIP}/") for _ in range(4)} == {"B"}
    limited = _plan(lb_id, [mb], limit=500)
    assert h.ensure(limited, ns, _plan(lb_id, [mb])) == "reloaded"
    assert h.master(lb_id) == master and h._worker(lb_id) != worker  # seamless: same master
    assert backends.get(ns, f"http://{VIP}/") == "B"
    # the agent restarted: a fresh driver with no memory adopts the running HAProxy
    again = Haproxy(h.root)
    assert again.ensure(limited, ns, None) == "unchanged" and again.master(lb_id) == master
    rows = again.stats(lb_id)
    assert any(r["svname"] == "FRONTEND" and int(r["stot"]) >= 1 for r in rows)
    # its master dies: the next pass starts a new one
    os.kill(master, signal.SIGKILL)
    for _ in range(100):
        if not alive(master):
            break
        time.sleep(0.05)
    assert again.ensure(limited, ns, None) == "started" and again.master(lb_id) != master
    assert backends.get(ns, f"http://{VIP}/") == "B"
    again.stop(lb_id, ns)
    assert not (h.root / lb_id).exists() and not nsmod.exists(ns)
