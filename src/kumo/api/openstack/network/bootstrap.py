"""The external network a fresh all-in-one cloud has: ``public`` (172.24.4.0/24, as
DevStack's), owned by the admin project, ``router:external``, no DHCP.

It is a VXLAN segment like any other: routers put their gateway legs and floating IPs
on it, and nothing of it touches the machine's own interfaces or routes. A user who
wants the machine to reach floating IPs opts in by giving the host the gateway address
on the segment's bridge (README, "Reaching a floating IP"). Idempotent: the network's
id is derived, so it is made once; if an admin deletes it, the next start makes it
again only when no external network named ``public`` exists.
"""

from __future__ import annotations

import uuid

from kumo import store
from kumo.model import identity as im
from kumo.model import network as nm

from ...runtime import Runtime
from .common import new_object
from .networks import claim_segment, release_segment

PUBLIC_CIDR = "172.24.4.0/24"
PUBLIC_GATEWAY = "172.24.4.1"
_NS = uuid.UUID("2b7c1d52-93b4-4e0a-b3f7-4f6f2a1c9e01")


async def ensure_public(rt: Runtime) -> str | None:
    """The ``public`` network's id (made if missing); None without an admin project."""
    objects = rt.objects
    found = await objects.list(nm.NETWORK, None, label_selector=f"{nm.EXTERNAL_LABEL}=true")
    for net in found.items:
        if net["spec"].get("name") == "public":
            return str(net["metadata"]["name"])
    admins = await objects.list(im.PROJECT, "", label_selector="name=admin")
    if not admins.items:
        return None
    project = admins.items[0]["metadata"]["name"]
    net_id, sub_id = str(uuid.uuid5(_NS, "public")), str(uuid.uuid5(_NS, "public-subnet"))
    vni = await claim_segment(rt, net_id, project, None)
    net = new_object(nm.NETWORK, project, net_id, {
        "name": "public", "description": "external network (kumo up)", "adminStateUp": True,
        "shared": False, "mtu": nm.VXLAN_MTU, "networkType": "vxlan", "segmentationId": vni,
        "portSecurityEnabled": False, "external": True, "tags": []},
        {nm.EXTERNAL_LABEL: "true"})
    net["status"] = {"status": "ACTIVE"}
    try:
        await objects.create(net)
    except store.AlreadyExists:
        await release_segment(rt, vni, net_id)
        return net_id
    await objects.create(new_object(nm.SUBNET, project, sub_id, {
        "name": "public-subnet", "description": "", "networkId": net_id, "ipVersion": 4,
        "cidr": PUBLIC_CIDR, "gatewayIp": PUBLIC_GATEWAY,
        "allocationPools": [{"start": "172.24.4.2", "end": "172.24.4.254"}],
        "dnsNameservers": [], "hostRoutes": [], "enableDhcp": False, "tags": []},
        {nm.NETWORK_LABEL: net_id}))
    return net_id
