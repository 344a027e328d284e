"""The metadata service behind the agents' proxies (OpenStack and EC2 formats).

Only a service (admin) token may call it: the proxy on the host names the
network and the guest's source address (``X-Kumo-Network-Id``,
``X-Forwarded-For``), and the server is the one whose port holds that address
on that network — so a guest gets its own data and nothing else.

    /openstack, /openstack/latest/{meta_data.json,user_data,network_data.json,
    vendor_data.json,vendor_data2.json}  (also under dated versions)
    /latest/meta-data/..., /latest/user-data  (EC2, also under 2009-04-04)
"""

from __future__ import annotations

import base64
import ipaddress
import json
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from kumo.model import compute as cm
from kumo.model import network as nm

from ...auth import authenticate
from ...errors import ApiError, handlers, keystone_body
from ...runtime import runtime

Obj = dict[str, Any]
OPENSTACK_VERSIONS = ["2012-08-10", "2013-04-04", "2013-10-17", "2015-10-15", "2016-06-30",
                      "2016-10-06", "2017-02-22", "2018-08-27", "2020-10-14", "latest"]
EC2_VERSIONS = ["1.0", "2007-01-19", "2007-03-01", "2007-08-29", "2007-10-10", "2007-12-15",
                "2008-02-01", "2008-09-01", "2009-04-04", "latest"]


async def _caller_server(request: Request) -> tuple[Obj, list[Obj], str]:
    ctx = await authenticate(request)
    ctx.require_admin()
    network_id = request.headers.get("x-kumo-network-id", "")
    ip = request.headers.get("x-forwarded-for", "").split(",")[0].strip()
    if not network_id or not ip:
        raise ApiError(400, "X-Kumo-Network-Id and X-Forwarded-For are required")
    objects = runtime(request).objects
    ports = await objects.list(nm.PORT, None, label_selector=f"{nm.NETWORK_LABEL}={network_id}")
    for port in ports.items:
        if any(f.get("ipAddress") == ip for f in port["spec"].get("fixedIps") or []):
            device = port["spec"].get("deviceId")
            if not device:
                break
            server = await objects.try_get(cm.SERVER, port["metadata"]["namespace"], device)
            if server is None:
                break
            mine = await objects.list(nm.PORT, port["metadata"]["namespace"],
                                      label_selector=f"{nm.DEVICE_LABEL}={device}")
            return server, mine.items, ip
    raise ApiError(404, f"no server has address {ip} on network {network_id}")


def _hostname(server: Obj) -> str:
    ann = server["metadata"].get("annotations") or {}
    return ann.get(cm.ANN_HOSTNAME) or server["spec"].get("displayName") or "server"


def _meta_data(server: Obj) -> Obj:
    spec, md = server["spec"], server["metadata"]
    keys = {}
    key_list = []
    if spec.get("publicKey"):
        name = spec.get("keyName") or "key"
        keys[name] = spec["publicKey"]
        key_list.append({"name": name, "type": "ssh", "data": spec["publicKey"]})
    ann = md.get("annotations") or {}
    return {"uuid": md["name"], "name": spec.get("displayName") or "",
            "hostname": _hostname(server), "launch_index": int(ann.get(cm.ANN_LAUNCH_INDEX, 0)),
            "availability_zone": spec.get("availabilityZone") or "nova",
            "project_id": md["namespace"], "public_keys": keys, "keys": key_list,
            "meta": spec.get("metadata") or {}, "devices": [], "random_seed": ""}


def _network_data(ports: list[Obj], subnets: dict[str, Obj]) -> Obj:
    links, networks = [], []
    for i, port in enumerate(sorted(ports, key=lambda p: p["metadata"].get(
            "creationTimestamp", ""))):
        pid = port["metadata"]["name"]
        links.append({"id": nm.tap_name(pid), "vif_id": pid, "type": "bridge",
                      "mtu": port["spec"].get("mtu") or nm.VXLAN_MTU,
                      "ethernet_mac_address": port["spec"]["macAddress"]})
        for j, f in enumerate(port["spec"].get("fixedIps") or []):
            sub = subnets.get(f.get("subnetId", ""))
            if sub is None:
                continue
            net = ipaddress.ip_network(sub["spec"]["cidr"])
            routes = []
            if sub["spec"].get("gatewayIp"):
                routes.append({"network": "0.0.0.0", "netmask": "0.0.0.0",
                               "gateway": sub["spec"]["gatewayIp"]})
            for r in sub["spec"].get("hostRoutes") or []:
                dest = ipaddress.ip_network(r["destination"])
                routes.append({"network": str(dest.network_address),
                               "netmask": str(dest.netmask), "gateway": r["nexthop"]})
            networks.append({
                "id": f"network{i * 10 + j}", "link": nm.tap_name(pid),
                "type": "ipv4_dhcp" if sub["spec"].get("enableDhcp", True) else "ipv4",
                "ip_address": f["ipAddress"], "netmask": str(net.netmask), "routes": routes,
                "network_id": port["spec"]["networkId"],
                "services": [{"type": "dns", "address": d}
                             for d in sub["spec"].get("dnsNameservers") or []]})
    return {"links": links, "networks": networks, "services": []}


async def _subnets(request: Request, ports: list[Obj]) -> dict[str, Obj]:
    objects = runtime(request).objects
    out = {}
    for net_id in {p["spec"]["networkId"] for p in ports}:
        found = await objects.list(nm.SUBNET, None, label_selector=f"{nm.NETWORK_LABEL}={net_id}")
        out.update({s["metadata"]["name"]: s for s in found.items})
    return out


def _listing(items: list[str]) -> Response:
    return PlainTextResponse("\n".join(items))


async def openstack(request: Request) -> Response:
    server, ports, _ = await _caller_server(request)
    version = request.path_params.get("version")
    leaf = request.path_params.get("leaf")
    if version is None:
        return _listing(OPENSTACK_VERSIONS)
    if version not in OPENSTACK_VERSIONS:
        raise ApiError(404, "unknown metadata version")
    if leaf is None:
        return _listing(["meta_data.json", "network_data.json", "user_data",
                         "vendor_data.json", "vendor_data2.json"])
    if leaf == "meta_data.json":
        return JSONResponse(_meta_data(server))
    if leaf == "user_data":
        data = server["spec"].get("userData")
        if not data:
            raise ApiError(404, "no user data")
        return Response(base64.b64decode(data), media_type="application/octet-stream")
    if leaf == "network_data.json":
        return JSONResponse(_network_data(ports, await _subnets(request, ports)))
    if leaf in ("vendor_data.json", "vendor_data2.json"):
        return JSONResponse({})
    raise ApiError(404, "not found")


def _ec2_tree(server: Obj, ports: list[Obj]) -> Obj:
    md = _meta_data(server)
    ips = [f["ipAddress"] for p in ports for f in p["spec"].get("fixedIps") or []]
    macs = [p["spec"]["macAddress"] for p in ports]
    tree: Obj = {
        "ami-id": server["spec"].get("image", {}).get("id", ""),
        "ami-launch-index": str(md["launch_index"]),
        "hostname": md["hostname"], "instance-id": md["uuid"],
        "instance-type": server["spec"].get("flavor", {}).get("name", ""),
        "local-hostname": md["hostname"], "local-ipv4": ips[0] if ips else "",
        "mac": macs[0] if macs else "", "public-hostname": md["hostname"], "public-ipv4": "",
        "reservation-id": md["uuid"], "security-groups": "default",
        "placement": {"availability-zone": md["availability_zone"]},
    }
    if md["keys"]:
        tree["public-keys"] = {f"0={md['keys'][0]['name']}": {
            "openssh-key": md["keys"][0]["data"]}}
    return tree


async def ec2(request: Request) -> Response:
    server, ports, _ = await _caller_server(request)
    version = request.path_params.get("version")
    rest = request.path_params.get("rest", "")
    if version is None:
        return _listing(EC2_VERSIONS)
    if version not in EC2_VERSIONS:
        raise ApiError(404, "unknown metadata version")
    if rest in ("", "/"):
        return _listing(["meta-data/", "user-data"])
    if rest.strip("/") == "user-data":
        data = server["spec"].get("userData")
        if not data:
            raise ApiError(404, "no user data")
        return Response(base64.b64decode(data), media_type="application/octet-stream")
    parts = [p for p in rest.strip("/").split("/") if p]
    if parts[0] != "meta-data":
        raise ApiError(404, "not found")
    node: Any = _ec2_tree(server, ports)
    for part in parts[1:]:
        if isinstance(node, dict) and part.split("=")[0] in {k.split("=")[0] for k in node}:
            node = next(v for k, v in node.items() if k.split("=")[0] == part.split("=")[0])
        else:
            raise ApiError(404, "not found")
    if isinstance(node, dict):
        return _listing([k + ("/" if isinstance(v, dict) else "") for k, v in node.items()])
    return PlainTextResponse(str(node) if not isinstance(node, list) else json.dumps(node))


def build_app() -> Starlette:
    routes = [
        Route("/openstack", openstack),
        Route("/openstack/", openstack),
        Route("/openstack/{version}", openstack),
        Route("/openstack/{version}/", openstack),
        Route("/openstack/{version}/{leaf}", openstack),
        Route("/", ec2),
        Route("/{version}", ec2),
        Route("/{version}/{rest:path}", ec2),
    ]
    return Starlette(routes=routes, exception_handlers=handlers(keystone_body))
