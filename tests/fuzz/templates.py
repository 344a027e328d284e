"""A valid-looking body for each write route (by path template): the fuzzer makes one of
its values hostile, so the request gets past the first checks to the deeper ones."""

from __future__ import annotations

import re
from typing import Any


def _first(pool: dict[str, list[str]], name: str) -> str:
    return (pool.get(name) or ["x"])[0]


def _identity(path: str, pool: dict[str, list[str]]) -> Any:
    pid = _first(pool, "project_id")
    table: dict[str, Any] = {
        r"/v3/auth/tokens$": {"auth": {"identity": {"methods": ["password"], "password": {
            "user": {"name": "fuzzer", "domain": {"id": "default"}, "password": "pw"}}},
            "scope": {"project": {"id": pid}}}},
        r"/v3/projects": {"project": {"name": "p", "description": "d", "tags": ["t"]}},
        r"/v3/domains": {"domain": {"name": "d", "description": "d"}},
        r"/v3/users/{id}/password$": {"user": {"original_password": "a", "password": "b"}},
        r"/v3/users/{id}/application_credentials": {"application_credential": {
            "name": "ac", "description": "d", "roles": [{"name": "member"}]}},
        r"/v3/users": {"user": {"name": "u", "password": "pw", "email": "e", "description": "d"}},
        r"/v3/groups": {"group": {"name": "g", "description": "d"}},
        r"/v3/roles": {"role": {"name": "r", "description": "d"}},
        r"/v3/services": {"service": {"type": "x", "name": "y"}},
        r"/v3/endpoints": {"endpoint": {"service_id": "x", "interface": "public", "url": "u"}},
    }
    return next((v for k, v in table.items() if re.search(k, path)), None)


def _compute(path: str, pool: dict[str, list[str]], pick: int) -> Any:
    img = _first(pool, "image_id")
    net = _first(pool, "network_id")
    actions = [{"reboot": {"type": "SOFT"}}, {"createImage": {"name": "i", "metadata": {}}},
               {"rebuild": {"imageRef": img, "name": "r"}}, {"resize": {"flavorRef": "42"}},
               {"addSecurityGroup": {"name": "default"}}, {"changePassword": {"adminPass": "x"}},
               {"os-getConsoleOutput": {"length": 10}}, {"addTenantAccess": {"tenant": "x"}}]
    table: dict[str, Any] = {
        r"/servers$": {"server": {"name": "vm", "imageRef": img, "flavorRef": "42",
                                  "networks": "none", "metadata": {"k": "v"},
                                  "description": "d"}},
        r"/servers/{server_id}$": {"server": {"name": "n", "description": "d"}},
        r"/action$": actions[pick % len(actions)],
        r"/metadata$": {"metadata": {"k": "v"}},
        r"/metadata/{key}$": {"meta": {"k": "v"}},
        r"/tags$": {"tags": ["a", "b"]},
        r"/os-interface$": {"interfaceAttachment": {"net_id": net}},
        r"/flavors$": {"flavor": {"name": "f", "ram": 512, "vcpus": 1, "disk": 1}},
        r"/flavors/{flavor_id}$": {"flavor": {"description": "d"}},
        r"/os-extra_specs": {"extra_specs": {"k": "v"}},
        r"/os-keypairs$": {"keypair": {"name": "kp2"}},
        r"/os-server-groups$": {"server_group": {"name": "g", "policies": ["affinity"]}},
        r"/os-quota-sets/": {"quota_set": {"instances": 5}},
        r"/os-services/": {"status": "disabled", "disabled_reason": "r"},
    }
    return next((v for k, v in table.items() if re.search(k, path)), None)


def _network(path: str, pool: dict[str, list[str]]) -> Any:
    net, sub, sg = (_first(pool, n) for n in ("network_id", "subnet_id", "group_id"))
    table: dict[str, Any] = {
        r"/networks(/{network_id})?$": {"network": {"name": "n", "description": "d",
                                                     "admin_state_up": True, "mtu": 1450}},
        r"/subnets(/{subnet_id})?$": {"subnet": {
            "network_id": net, "cidr": "10.9.0.0/24", "ip_version": 4, "name": "s",
            "allocation_pools": [{"start": "10.9.0.10", "end": "10.9.0.20"}],
            "dns_nameservers": ["10.0.0.53"], "host_routes": [], "gateway_ip": "10.9.0.1"}},
        r"/ports(/{port_id})?$": {"port": {
            "network_id": net, "name": "p", "fixed_ips": [{"subnet_id": sub}],
            "security_groups": [sg], "allowed_address_pairs": [], "description": "d"}},
        r"/security-groups(/{group_id})?$": {"security_group": {"name": "sg",
                                                                 "description": "d"}},
        r"/security-group-rules$": {"security_group_rule": {
            "security_group_id": sg, "direction": "ingress", "protocol": "tcp",
            "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "0.0.0.0/0",
            "ethertype": "IPv4"}},
        r"/quotas/": {"quota": {"network": 10, "port": 20}},
        r"/tags$": {"tags": ["a", "b"]},
    }
    return next((v for k, v in table.items() if re.search(k, path)), None)


def _image(path: str, method: str, pool: dict[str, list[str]]) -> Any:
    if path.endswith("/images"):
        return {"name": "i", "disk_format": "qcow2", "container_format": "bare",
                "visibility": "private", "tags": ["a"], "os_distro": "x", "min_ram": 0}
    if path.endswith("/images/{image_id}"):
        return [{"op": "replace", "path": "/name", "value": "x"},
                {"op": "add", "path": "/prop", "value": "v"}]
    if path.endswith("/members"):
        return {"member": _first(pool, "project_id")}
    if path.endswith("/members/{member_id}"):
        return {"status": "accepted"}
    return None


def _native(path: str, method: str) -> Any:
    if method == "POST":
        return {"metadata": {"name": "fz", "labels": {"a": "b"}, "annotations": {"c": "d"}},
                "spec": {"data": {"k": "v"}}}
    return {"metadata": {"labels": {"a": "b"}}, "spec": {"data": {"k": "v"}},
            "status": {"ready": True}}


def template(method: str, path: str, pool: dict[str, list[str]], pick: int = 0) -> Any:
    if method in ("GET", "DELETE"):
        return None
    if path.startswith("/v3"):
        return _identity(path, pool)
    if path.startswith("/compute"):
        return _compute(path, pool, pick)
    if path.startswith("/network"):
        return _network(path, pool)
    if path.startswith("/image"):
        return _image(path, method, pool)
    if path.startswith("/apis"):
        return _native(path, method)
    return None
