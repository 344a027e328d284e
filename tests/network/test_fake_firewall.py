"""The in-memory firewall of fake hosts takes a full rebuild (the agent's first apply):
it failed on every full apply, so fake hosts never programmed their ports' groups."""

from __future__ import annotations

from kumo.drivers import nftables_render as r
from kumo.drivers.nftables import FakeFirewall


def test_full_then_diff_apply() -> None:
    fw = FakeFirewall()
    port = r.PortFilter("tap1234567890", ("fa:16:3e:00:00:01",), ("10.0.0.5",), (), ("g1",),
                        "kbr-5")
    rs = r.Ruleset({port.tap: port}, {"g1": (r.SgRule("ingress", "IPv4", "tcp", 22, 22),)}, {})
    full = fw.apply(rs, full=True)
    assert full.full and full.commands > 0 and "g1" in full.changed_groups
    again = fw.apply(rs)
    assert not again.full and again.commands == 0
