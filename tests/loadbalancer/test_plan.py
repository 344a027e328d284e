"""The agent's pure rules: a LoadBalancer as HAProxy's plan and configuration, HAProxy's
``show stat`` as Octavia's operating statuses, counters kept across reloads."""

from __future__ import annotations

import uuid

import pytest

from kumo.agent import loadbalancer_plan as lbplan
from kumo.drivers.haproxy_config import ConfigError, render


def _ids(n: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(n)]


def _lb(monitor: bool = True) -> dict:
    lb, x, p, m1, m2, hm = _ids(6)
    pool = {"id": p, "protocol": "HTTP", "lbAlgorithm": "LEAST_CONNECTIONS",
            "members": [{"id": m1, "address": "10.0.0.5", "protocolPort": 80, "weight": 2},
                        {"id": m2, "address": "10.0.0.6", "protocolPort": 80,
                         "adminStateUp": False}],
            "healthMonitor": {"id": hm, "type": "HTTP", "delay": 2, "timeout": 1,
                              "maxRetries": 2, "maxRetriesDown": 3, "urlPath": "/health",
                              "expectedCodes": "200-202"} if monitor else None}
    return {"metadata": {"name": lb, "namespace": "p"},
            "spec": {"vipAddress": "10.0.0.2", "adminStateUp": True,
                     "listeners": [{"id": x, "protocol": "HTTP", "protocolPort": 80,
                                    "defaultPoolId": p, "connectionLimit": 100}],
                     "pools": [pool]}}


def test_render_from_ids_only() -> None:
    lb = _lb()
    lb["spec"]["listeners"][0]["name"] = "evil\n    bind 0.0.0.0:22"
    text = render(lbplan.plan(lb), "/run/x")
    p = lb["spec"]["pools"][0]
    assert "evil" not in text and "master-worker" in text and "expose-fd listeners" in text
    assert f"backend p{p['id']}" in text and "balance leastconn" in text
    assert "option httpchk GET /health" in text and "rstatus ^(200|202)$" in text
    m1, m2 = p["members"]
    pool_args = "pool-max-conn -1 pool-purge-delay 5s"
    assert f"server m{m1['id']} 10.0.0.5:80 weight 2 {pool_args} check inter 2s fall 3 " \
        "rise 2" in text
    assert f"server m{m2['id']} 10.0.0.6:80 weight 1 {pool_args} check inter 2s fall 3 " \
        "rise 2 disabled" in text
    assert "bind 10.0.0.2:80" in text and "maxconn 100" in text


def test_render_refuses_bad_values() -> None:
    lb = _lb()
    lb["spec"]["pools"][0]["members"][0]["address"] = "10.0.0.5 backup"
    with pytest.raises(ConfigError):
        render(lbplan.plan(lb), "/run/x")
    lb = _lb()
    lb["spec"]["pools"][0]["healthMonitor"]["urlPath"] = "/x\nbind"
    with pytest.raises(ConfigError):
        render(lbplan.plan(lb), "/run/x")


def test_members_only_change_is_detected() -> None:
    a = lbplan.plan(_lb())
    lb = _lb()
    b = lbplan.plan(lb)
    assert a.without_members() != b.without_members()  # other ids
    lb2 = {**lb, "spec": {**lb["spec"], "pools": [dict(lb["spec"]["pools"][0])]}}
    lb2["spec"]["pools"][0]["members"] = lb["spec"]["pools"][0]["members"][:1]
    assert lbplan.plan(lb2).without_members() == b.without_members()
    assert lbplan.plan(lb2) != b


def _rows(lb: dict, m1: str, m2: str) -> list[dict[str, str]]:
    x, p = lb["spec"]["listeners"][0], lb["spec"]["pools"][0]
    a, b = p["members"]
    return [{"pxname": f"l{x['id']}", "svname": "FRONTEND", "status": "OPEN", "scur": "3",
             "stot": "10"},
            {"pxname": f"p{p['id']}", "svname": "BACKEND", "status": "UP", "qcur": "1"},
            {"pxname": f"p{p['id']}", "svname": f"m{a['id']}", "status": m1, "scur": "2"},
            {"pxname": f"p{p['id']}", "svname": f"m{b['id']}", "status": m2}]


def test_operating_rolls_up() -> None:
    lb = _lb()
    p = lb["spec"]["pools"][0]
    lb["spec"]["pools"][0]["members"][1]["adminStateUp"] = True
    x, (a, b) = lb["spec"]["listeners"][0], p["members"]
    ok = lbplan.operating(lb, _rows(lb, "UP", "UP 1/3"))
    assert ok[a["id"]] == ok[b["id"]] == ok[p["id"]] == ok[x["id"]] == "ONLINE"
    assert ok[lb["metadata"]["name"]] == "ONLINE"
    half = lbplan.operating(lb, _rows(lb, "UP", "DOWN"))
    assert half[b["id"]] == "ERROR" and half[p["id"]] == "DEGRADED"
    assert half[x["id"]] == "DEGRADED" and half[lb["metadata"]["name"]] == "DEGRADED"
    down = lbplan.operating(lb, _rows(lb, "DOWN", "DOWN"))
    assert down[p["id"]] == "ERROR" and down[lb["metadata"]["name"]] == "DEGRADED"
    maint = lbplan.operating(lb, _rows(lb, "UP", "MAINT"))
    assert maint[b["id"]] == "OFFLINE" and maint[p["id"]] == "ONLINE"
    bare = _lb(monitor=False)
    nomon = lbplan.operating(bare, _rows(bare, "no check", "no check"))
    assert nomon[bare["spec"]["pools"][0]["members"][0]["id"]] == "NO_MONITOR"
    nums = lbplan.numbers(_rows(lb, "UP", "UP"))
    assert nums[x["id"]]["scur"] == 3 and nums[p["id"]]["qcur"] == 1
    assert nums[a["id"]]["scur"] == 2


def test_counters_survive_a_reload() -> None:
    base, tot = lbplan.accumulate({}, {}, {"l": {"stot": 10, "scur": 4}})
    assert tot["l"]["stot"] == 10
    base, tot = lbplan.accumulate({"l": {"stot": 10}}, base, {"l": {"stot": 3, "scur": 1}})
    assert tot["l"] == {"stot": 13, "scur": 1}
    base, tot = lbplan.accumulate({"l": {"stot": 3}}, base, {"l": {"stot": 5}})
    assert tot["l"]["stot"] == 15
