"""Prometheus rules (checked and unit-tested by promtool) and Grafana dashboards (their
structure, and every metric they chart is one kumo exports)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from kumo.observe import metrics

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
PROMTOOL = shutil.which("promtool")
need_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool (Debian package "
                                   "prometheus) is not installed")


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], cwd=DEPLOY / "prometheus", capture_output=True,
                          text=True, timeout=60, check=False)


@need_promtool
def test_rules_are_valid() -> None:
    r = _promtool("check", "rules", "kumo-rules.yml")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS: 15 rules found" in r.stdout


@need_promtool
def test_injected_faults_fire_their_alerts_and_a_healthy_cloud_none() -> None:
    r = _promtool("test", "rules", "kumo-rules.test.yml")
    assert r.returncode == 0, r.stdout + r.stderr


@need_promtool
def test_scrape_config_is_valid() -> None:
    r = _promtool("check", "config", "prometheus.yml")
    assert r.returncode == 0, r.stdout + r.stderr


def _exported() -> set[str]:
    names = set()
    for fam in metrics.REGISTRY.collect():
        names.add(fam.name)
        names |= {s.name for s in fam.samples}
    return names | set(metrics.REGISTRY._names_to_collectors)  # labelled series not yet set


@pytest.mark.parametrize("name", ["kumo-control-plane.json", "kumo-hosts.json",
                                  "kumo-networks.json"])
def test_dashboard_structure_and_metrics(name: str) -> None:
    dash = json.loads((DEPLOY / "grafana" / name).read_text())
    assert dash["uid"] and dash["title"].startswith("kumo") and dash["schemaVersion"] >= 36
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids)) and dash["panels"]
    variables = {v["name"] for v in dash["templating"]["list"]}
    exported = _exported()
    for p in dash["panels"]:
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0
        assert p["targets"], p["title"]
        for t in p["targets"]:
            used = set(re.findall(r"\$(\w+)", t["expr"]))
            assert used <= variables, (p["title"], used - variables)
            for metric in re.findall(r"\b(kumo_[a-z0-9_]+)", t["expr"]):
                base = re.sub(r"_(bucket|count|sum)$", "", metric)
                assert metric in exported or base in exported, f"{name}: {metric} unknown"
