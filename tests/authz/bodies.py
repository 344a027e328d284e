"""Request bodies for the matrix: valid for the owner wherever that is easy, so an
allowed caller's answer is the route's real success (2xx) and a refused caller's
refusal cannot be blamed on a malformed body."""

from __future__ import annotations

import copy
import itertools
from typing import TYPE_CHECKING, Any

from kumo.model import registry

from .seed import PUBLIC_KEY, Seed

if TYPE_CHECKING:
    from .routes import Call, Filler

_n = itertools.count(1)
NATIVE = "/apis/kumo.io/v1"


def _u() -> str:
    return f"authz{next(_n)}"


async def body_for(f: Filler, method: str, template: str, caller: str) -> Any:  # noqa: C901, PLR0911, PLR0912
    s, ids = f.seed, f.seed.ids
    key = f"{method} {template}"
    who = s.who[caller]
    if key == "POST /v3/auth/tokens":
        tok = who.token if who else "not-a-token"
        return {"auth": {"identity": {"methods": ["token"], "token": {"id": tok}}}}
    static: dict[str, Any] = {
        "PUT /compute/v2.1/servers/{server_id}": {"server": {"name": "renamed"}},
        "POST /compute/v2.1/servers/{server_id}/action": {"reboot": {"type": "SOFT"}},
        "POST /compute/v2.1/servers/{server_id}/metadata": {"metadata": {"a": "b"}},
        "PUT /compute/v2.1/servers/{server_id}/metadata": {"metadata": {"a": "b"}},
        "PUT /compute/v2.1/servers/{server_id}/metadata/{key}": {"meta": {"k": "v2"}},
        "PUT /compute/v2.1/servers/{server_id}/tags": {"tags": ["a"]},
        "PUT /compute/v2.1/flavors/{flavor_id}": {"flavor": {"description": "d"}},
        "POST /compute/v2.1/flavors/{flavor_id}/action": {
            "addTenantAccess": {"tenant": s.owner.project_id}},
        "POST /compute/v2.1/flavors/{flavor_id}/os-extra_specs": {"extra_specs": {"a": "b"}},
        "PUT /compute/v2.1/flavors/{flavor_id}/os-extra_specs/{key}": {"k": "v2"},
        "POST /compute/v2.1/os-server-groups": {"server_group": {"name": "g",
                                                                 "policy": "affinity"}},
        "PUT /compute/v2.1/os-quota-sets/{project_id}": {"quota_set": {"instances": 11,
                                                                          "force": True}},
        "PUT /compute/v2.1/os-services/{service_id}": {"status": "disabled",
                                                       "disabled_reason": "authz"},
        "POST /network/v2.0/networks": {"network": {"name": "n"}},
        "PUT /network/v2.0/networks/{network_id}": {"network": {"name": "m"}},
        "PUT /network/v2.0/subnets/{subnet_id}": {"subnet": {"name": "m"}},
        "POST /network/v2.0/ports": {"port": {"network_id": ids["network"]}},
        "PUT /network/v2.0/ports/{port_id}": {"port": {"name": "m"}},
        "PUT /network/v2.0/security-groups/{group_id}": {"security_group": {"name": "m"}},
        "PUT /network/v2.0/quotas/{project_id}": {"quota": {"network": 50}},
        "PUT /network/v2.0/{collection}/{resource_id}/tags": {"tags": ["a"]},
        "POST /image/v2/images": {"name": "i", "disk_format": "qcow2",
                                  "container_format": "bare"},
        "PATCH /image/v2/images/{image_id}": [{"op": "replace", "path": "/name",
                                               "value": "m"}],
        "PUT /image/v2/images/{image_id}/members/{member_id}": {"status": "accepted"},
        "PATCH /v3/domains/{id}": {"domain": {"description": "d"}},
        "PATCH /v3/projects/{id}": {"project": {"description": "d"}},
        "PATCH /v3/users/{id}": {"user": {"description": "d"}},
        "PATCH /v3/roles/{id}": {"role": {"description": "d"}},
        "POST /v3/users/{id}/password": {"user": {"password": "n3w-Passw0rd",
                                                  "original_password": "unknown"}},
        "POST /v3/services": {"service": {"type": "authz", "name": "authz"}},
        "POST /v3/policies": {"policy": {"type": "t", "blob": "b"}},
        "POST /v3/OS-EP-FILTER/endpoint_groups": {"endpoint_group": {
            "name": "g", "filters": {"interface": "public"}}},
        "PATCH /v3/OS-EP-FILTER/endpoint_groups/{id}": {"endpoint_group": {
            "description": "d"}},
        "PATCH /v3/policies/{id}": {"policy": {"blob": "c"}},
        "PUT /v3/domains/{id}/config": {"config": {"identity": {"driver": "ldap"}}},
        "PATCH /v3/domains/{id}/config": {"config": {"identity": {"driver": "sql"}}},
        "PATCH /v3/domains/{id}/config/{group}": {"config": {"identity": {"driver": "sql"}}},
        "PATCH /v3/domains/{id}/config/{group}/{option}": {"config": {"driver": "sql"}},
        "PUT /image/v2/metadefs/namespaces/{ns}": {"description": "d"},
        "POST /image/v2/images/{image_id}/import": {"method": {"name": "glance-direct"}},
        "POST /image/v2/tasks": {"type": "import", "input": {
            "import_from": "http://example.invalid/x.qcow2", "import_from_format": "qcow2",
            "image_properties": {"disk_format": "qcow2", "container_format": "bare"}}},
        "POST /image/v2/metadefs/namespaces/{ns}/objects": {"name": "o2"},
        "PUT /image/v2/metadefs/namespaces/{ns}/objects/{name}": {"name": "o",
                                                                 "description": "d"},
        "POST /image/v2/metadefs/namespaces/{ns}/properties": {
            "name": "p2", "title": "P", "type": "string"},
        "PUT /image/v2/metadefs/namespaces/{ns}/properties/{name}": {
            "name": "p", "title": "T", "type": "string"},
        "POST /image/v2/metadefs/namespaces/{ns}/tags": {"tags": [{"name": "a"}]},
        "PUT /image/v2/metadefs/namespaces/{ns}/tags/{name}": {"name": "t2"},
        "POST /image/v2/metadefs/namespaces/{ns}/resource_types": {
            "name": "OS::Nova::Server"},
        "PATCH /v3/services/{id}": {"service": {"description": "d"}},
        "PATCH /v3/endpoints/{id}": {"endpoint": {"url": "http://x/y"}},
        "POST /v3/regions": {"region": {"description": "r"}},
        "PUT /v3/regions/{id}": {"region": {"description": "r"}},
        "PATCH /v3/regions/{id}": {"region": {"description": "d"}},
        "PATCH /v3/groups/{id}": {"group": {"description": "d"}},
        "PATCH /v3/credentials/{id}": {"credential": {"blob": "c"}},
        "PUT /v3/projects/{id}/tags": {"tags": ["a", "b"]},
        "POST /v3/credentials": {"credential": {"user_id": s.owner.user_id, "type": "cert",
                                                "blob": "b"}},
        "POST /v3/users/{id}/credentials/OS-EC2": {"tenant_id": s.owner.project_id},
        "POST /v3/endpoints": {"endpoint": {"service_id": ids["services"],
                                            "interface": "public",
                                            "url": "http://localhost/authz"}},
    }
    if key in static:
        return static[key]
    if key == "POST /dns/v2/zones":
        return {"name": f"{_u()}.authz.example.", "email": "a@authz.example"}
    if key == "PATCH /dns/v2/zones/{zone_id}":
        return {"description": "d"}
    if key == "POST /dns/v2/zones/{zone_id}/recordsets":
        return {"name": f"{_u()}.{ids['zname']}", "type": "A", "records": ["10.0.0.2"]}
    if key == "PUT /dns/v2/zones/{zone_id}/recordsets/{recordset_id}":
        return {"records": ["10.0.0.3"]}
    if key == "PATCH /dns/v2/reverse/floatingips/{fip_key}":
        return {"ptrdname": "ptr.authz.example."}
    if method == "POST" and template.rsplit("/", 1)[-1] in ("tsigkeys", "tlds", "blacklists"):
        return s.dns_admin_body(template.rsplit("/", 1)[-1])
    if method == "PATCH" and "{item_id}" in template:
        return {"description": "d"} if "tsigkeys" not in template else {"scope": "POOL"}
    if key == "POST /dns/v2/zones/{zone_id}/shares":
        return {"target_project_id": (await s.cloud.project(_u()))}
    if key == "POST /dns/v2/zones/tasks/transfer_accepts":
        req = await s.xfer_request()
        return {"key": req["key"], "zone_transfer_request_id": req["id"]}
    if key == "PATCH /dns/v2/zones/tasks/transfer_requests/{task_id}":
        return {"description": "d"}
    if key == "POST /dns/v2/zones/{zone_id}/tasks/transfer_requests":
        return {"description": "d"}
    if key == "PATCH /dns/v2/quotas/{project_id}":
        return {"zones": 50}
    if template.startswith("/load-balancer/"):
        from tests.loadbalancer import authz_seed

        async def caller_net() -> str:
            if caller != "other_member" or who is None:
                return ids["network"]
            net = (await s.neutron("POST", "/v2.0/networks", who, json={
                "network": {"name": _u()}}))["network"]["id"]
            await s.neutron("POST", "/v2.0/subnets", who, json={"subnet": {
                "network_id": net, "ip_version": 4, "cidr": "10.250.0.0/24"}})
            return net

        return await authz_seed.body(s, key, f._lb, caller_net)
    if key == "POST /compute/v2.1/servers":
        return {"server": {"name": "vm", "imageRef": ids["public_image"], "flavorRef": "42",
                           "networks": "none"}}
    if key == "POST /compute/v2.1/servers/{server_id}/os-interface":
        return {"interfaceAttachment": {"port_id": await s.port()}}
    if key == "POST /compute/v2.1/flavors":
        return {"flavor": {"name": _u(), "ram": 64, "vcpus": 1, "disk": 1}}
    if key == "POST /compute/v2.1/os-keypairs":
        return {"keypair": {"name": _u(), "public_key": PUBLIC_KEY}}
    if key == "POST /network/v2.0/subnets":
        return {"subnet": {"network_id": ids["network"], "ip_version": 4,
                           "cidr": f"10.{100 + next(_n) % 150}.0.0/24"}}
    if key == "POST /network/v2.0/subnetpools":
        return {"subnetpool": {"name": _u(), "prefixes": ["10.251.0.0/16"]}}
    if key == "PUT /network/v2.0/subnetpools/{subnetpool_id}":
        return {"subnetpool": {"name": "m"}}
    if key == "POST /network/v2.0/address-scopes":
        return {"address_scope": {"name": _u(), "ip_version": 4}}
    if key == "PUT /network/v2.0/address-scopes/{address_scope_id}":
        return {"address_scope": {"name": "m"}}
    if key == "POST /network/v2.0/rbac-policies":
        return {"rbac_policy": {"object_type": "network", "object_id": ids["network"],
                                "action": "access_as_shared", "target_tenant": _u()}}
    if key == "PUT /network/v2.0/rbac-policies/{rbac_id}":
        return {"rbac_policy": {"target_tenant": _u()}}
    if key == "POST /network/v2.0/routers":
        return {"router": {"name": _u()}}
    if key == "PUT /network/v2.0/routers/{router_id}":
        return {"router": {"name": "m"}}
    if key == "PUT /network/v2.0/routers/{router_id}/add_router_interface":
        return {"subnet_id": await s.subnet()}
    if key == "PUT /network/v2.0/routers/{router_id}/remove_router_interface":
        return {"subnet_id": s.router_subnet}
    if key == "POST /network/v2.0/floatingips":
        return {"floatingip": {"floating_network_id": ids["external"]}}
    if key == "PUT /network/v2.0/floatingips/{floatingip_id}":
        return {"floatingip": {"description": "m"}}
    if key == "POST /network/v2.0/security-groups":
        return {"security_group": {"name": _u()}}
    if key == "POST /network/v2.0/security-group-rules":
        p = 20000 + next(_n)
        return {"security_group_rule": {"security_group_id": ids["secgroup"],
                                        "direction": "ingress", "protocol": "tcp",
                                        "port_range_min": p, "port_range_max": p}}
    if key in ("POST /v3/OS-TRUST/trusts", "POST /v3/OS-TRUST/trusts/") and who:
        return {"trust": {"trustor_user_id": who.user_id, "trustee_user_id": s.owner.user_id,
                          "project_id": who.project_id, "impersonation": False,
                          "roles": [{"name": "reader"}]}}
    if key == "POST /image/v2/metadefs/namespaces":
        return {"namespace": _u()}
    if key == "POST /image/v2/images/{image_id}/members":
        return {"member": (await s.cloud.project(_u()))}
    if key.startswith("POST /v3/") and template.count("/") == 2:
        coll = template.split("/")[2]
        body: dict[str, Any] = {"name": _u()}
        return {coll[:-1]: body}
    if key == "POST /v3/users/{id}/application_credentials":
        return {"application_credential": {"name": _u()}}
    return None


# ---- native ----------------------------------------------------------------------------
def _plural(template: str) -> str:
    rest = template[len(NATIVE) + 1:].split("/")
    return rest[2] if rest[0] == "namespaces" else rest[0]


async def _sample(seed: Seed, kind: str, ns: str) -> dict[str, Any]:
    objects = seed.cloud.objects
    found = (await objects.list(kind, ns or None)).items
    if found:
        return found[0]
    return await objects.create({"apiVersion": "kumo.io/v1", "kind": kind,
                                 "metadata": {"name": _fresh_name(kind), "namespace": ns},
                                 "spec": {}})


def _fresh_name(kind: str) -> str:
    """A new name, shaped as the kind's claims are (admission checks allocation names)."""
    n = next(_n)
    return {"SegmentAllocation": f"vxlan.{9_000_000 + n}",
            "IPAllocation": f"authz{n}.10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}",
            "MacAllocation": f"authz{n}.02-00-00-00-{n // 256 % 256:02x}-{n % 256:02x}",
            }.get(kind, _u())


def _clone(obj: dict[str, Any], name: str) -> dict[str, Any]:
    md = obj["metadata"]
    out = {k: copy.deepcopy(v) for k, v in obj.items() if k != "metadata"}
    out["metadata"] = {"name": name, "namespace": md.get("namespace", ""),
                       "labels": dict(md.get("labels") or {}),
                       "annotations": dict(md.get("annotations") or {})}
    return out


async def native_call(seed: Seed, method: str, template: str, write: bool) -> Call:
    from .routes import Call

    info = registry.by_plural(_plural(template))
    assert info is not None, template
    ns = seed.owner.project_id if info.namespaced else ""
    path = template.replace("{namespace}", ns)
    sample = await _sample(seed, info.kind, ns)
    if "{name}" not in template:
        if method != "POST":
            return Call(method, path)
        name = _fresh_name(info.kind)
        return Call(method, path, _clone(sample, name), cleanup=(info.kind, ns, name))
    target = sample
    if write:
        target = await seed.cloud.objects.create(_clone(sample, _fresh_name(info.kind)))
    name = target["metadata"]["name"]
    path = path.replace("{name}", name)
    gone = (info.kind, ns, name) if write else None
    if method == "PATCH":
        patch = {"status": {"authz": "x"}} if path.endswith("/status") else {
            "metadata": {"labels": {"authz": "x"}}}
        return Call(method, path, patch, {"Content-Type": "application/merge-patch+json"},
                    cleanup=gone)
    if method == "PUT":
        body = copy.deepcopy(target)
        body.setdefault("metadata", {}).setdefault("labels", {})["authz"] = "x"
        return Call(method, path, body, cleanup=gone)
    return Call(method, path, cleanup=gone)
