"""ACTIVE_STANDBY's building block: keepalived (VRRPv3, unicast, 200 ms adverts) between
two hosts' namespaces moves the VIP when the active host dies; the standby serves within
the goal (5 s; Octavia's failover: 68-72 s)."""

from __future__ import annotations

import shutil

import pytest

from kumo.drivers.keepalived import KeepalivedError, VrrpPlan, render, router_id

from . import backends, vrrp

LB = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


def test_render() -> None:
    text = render(VrrpPlan(LB, "qlb-x", "lb-0f1e2d3c-4b", "10.0.0.5/24", "10.0.0.11",
                           "10.0.0.12", 100, 200))
    assert "advert_int 0.20" in text and "nopreempt" in text and "state BACKUP" in text
    assert "10.0.0.5/24 dev lb-0f1e2d3c-4b" in text and "unicast_peer {\n        10.0.0.12" in text
    assert f"virtual_router_id {router_id(LB)}" in text and 1 <= router_id(LB) <= 255
    with pytest.raises(KeepalivedError):
        render(VrrpPlan(LB, "n", "eth0; x", "10.0.0.5/24", "10.0.0.11", "10.0.0.12", 100))
    with pytest.raises(KeepalivedError):
        render(VrrpPlan(LB, "n", "eth0", "10.0.0.5/24", "10.0.0.11", "bad", 100))


@pytest.mark.e2e
@pytest.mark.skipif(backends.can_netns() is not None or shutil.which("keepalived") is None,
                    reason="needs network namespaces and keepalived")
def test_active_host_dies_standby_serves() -> None:
    got = vrrp.failover(advert_ms=200)
    assert got["served_before_kill"] > 20 and got["failed_before_kill"] == 0, got
    assert got["kill_to_first_served_s"] <= 5.0, got
    assert got["failed_after_takeover"] == 0 and got["served_by_standby"] > 20, got
    print("failover", got)
