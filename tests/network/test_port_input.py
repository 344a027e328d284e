"""Port bodies with empty or null values where Neutron wants a value: 400, nothing stored.

Neutron validates ``mac_address`` as a MAC (``""`` and ``null`` are not), text fields as
strings, ``fixed_ips`` as a list, booleans as booleans; only ``security_groups`` and
``allowed_address_pairs`` convert ``null`` to ``[]`` (``convert_none_to_empty_list``).
"""

from __future__ import annotations

from typing import Any

import pytest

from kumo.model import network as nm

from .conftest import Neutron, Tenant

BAD_CREATE: list[tuple[str, Any]] = [
    ("mac_address", ""), ("mac_address", None), ("mac_address", 0), ("mac_address", []),
    ("fixed_ips", None), ("fixed_ips", ""), ("fixed_ips", {}),
    ("name", None), ("description", None), ("device_id", None), ("device_owner", None),
    ("admin_state_up", None), ("admin_state_up", ""), ("port_security_enabled", None),
    ("allowed_address_pairs", ""), ("allowed_address_pairs", {}),
    ("security_groups", ""), ("tags", None), ("network_id", None), ("network_id", 5),
]
BAD_UPDATE: list[tuple[str, Any]] = [
    ("fixed_ips", None), ("fixed_ips", ""), ("name", None), ("description", None),
    ("device_id", None), ("device_owner", None), ("admin_state_up", None),
    ("port_security_enabled", None), ("allowed_address_pairs", ""), ("security_groups", ""),
    ("mac_address", None), ("mac_address", ""),
]


@pytest.fixture
async def net(neutron: Neutron, alice: Tenant) -> str:
    net_id = (await neutron.network(alice, "n"))["id"]
    await neutron.subnet(alice, net_id, "10.0.0.0/24")
    return net_id


async def _nothing_held(neutron: Neutron) -> None:
    for kind in (nm.PORT, nm.IP_ALLOCATION, nm.MAC_ALLOCATION):
        assert (await neutron.objects.list(kind, None)).items == [], kind


async def test_create_refuses_empty_and_null_values(neutron: Neutron, alice: Tenant,
                                                    net: str) -> None:
    for key, value in BAD_CREATE:
        r = await neutron.call("POST", "/v2.0/ports", alice,
                               json={"port": {"network_id": net, key: value}})
        assert r.status_code == 400, (key, value, r.text)
        assert set(r.json()["NeutronError"]) == {"type", "message", "detail"}
    await _nothing_held(neutron)


async def test_null_lists_mean_empty_as_in_neutron(neutron: Neutron, alice: Tenant,
                                                   net: str) -> None:
    p = await neutron.port(alice, net, security_groups=None, allowed_address_pairs=None)
    assert p["security_groups"] == [] and p["allowed_address_pairs"] == []


async def test_update_refuses_empty_and_null_values(neutron: Neutron, alice: Tenant,
                                                    net: str) -> None:
    p = await neutron.port(alice, net, name="keep")
    for key, value in BAD_UPDATE:
        r = await neutron.call("PUT", f"/v2.0/ports/{p['id']}", alice,
                               json={"port": {key: value}})
        assert r.status_code == 400, (key, value, r.text)
    same = (await neutron.ok("GET", f"/v2.0/ports/{p['id']}", alice))["port"]
    assert same == p
