"""Octavia's views of the tree: statuses derived (core.loadbalancers), ids as Octavia shows
them, fields Octavia has that kumo does not implement shown as their defaults."""

from __future__ import annotations

from typing import Any

from kumo.core import loadbalancers as core_lbs

Obj = dict[str, Any]


def _iso(ts: str | None) -> str | None:
    return ts[:19] if ts else None


def _common(lb: Obj, child: Obj) -> Obj:
    return {"id": child["id"], "name": child.get("name", ""),
            "description": child.get("description", ""),
            "project_id": lb["metadata"]["namespace"],
            "tenant_id": lb["metadata"]["namespace"],
            "admin_state_up": child.get("adminStateUp", True),
            "provisioning_status": core_lbs.child_provisioning(lb, child),
            "operating_status": core_lbs.operating(lb, child["id"],
                                                   child.get("adminStateUp", True)),
            "created_at": child.get("createdAt"), "updated_at": child.get("updatedAt"),
            "tags": list(child.get("tags") or [])}


def lb_view(lb: Obj) -> Obj:
    md, spec = lb["metadata"], lb["spec"]
    return {"id": md["name"], "name": spec.get("name", ""),
            "description": spec.get("description", ""),
            "project_id": md["namespace"], "tenant_id": md["namespace"],
            "admin_state_up": spec.get("adminStateUp", True),
            "provisioning_status": core_lbs.provisioning(lb),
            "operating_status": core_lbs.operating(lb, md["name"]),
            "vip_address": spec.get("vipAddress"), "vip_port_id": spec.get("vipPortId"),
            "vip_subnet_id": spec.get("vipSubnetId"),
            "vip_network_id": spec.get("vipNetworkId"), "vip_qos_policy_id": None,
            "additional_vips": [], "provider": spec.get("provider", "kumo"),
            "flavor_id": spec.get("flavorId"), "availability_zone": None,
            "listeners": [{"id": x["id"]} for x in spec.get("listeners") or []],
            "pools": [{"id": p["id"]} for p in spec.get("pools") or []],
            "created_at": _iso(md.get("creationTimestamp")),
            "updated_at": (md.get("annotations") or {}).get("lb.kumo.io/updated-at"),
            "tags": list(spec.get("tags") or [])}


def listener_view(lb: Obj, x: Obj) -> Obj:
    return {**_common(lb, x), "protocol": x["protocol"], "protocol_port": x["protocolPort"],
            "connection_limit": x.get("connectionLimit", -1),
            "default_pool_id": x.get("defaultPoolId"),
            "loadbalancers": [{"id": lb["metadata"]["name"]}],
            "l7policies": [{"id": p["id"]} for p in x.get("l7policies") or []],
            "insert_headers": dict(x.get("insertHeaders") or {}),
            "timeout_client_data": x.get("timeoutClientData", 50000),
            "timeout_member_connect": x.get("timeoutMemberConnect", 5000),
            "timeout_member_data": x.get("timeoutMemberData", 50000),
            "timeout_tcp_inspect": x.get("timeoutTcpInspect", 0),
            "allowed_cidrs": list(x.get("allowedCidrs") or []) or None,
            "default_tls_container_ref": None, "sni_container_refs": [],
            "client_ca_tls_container_ref": None, "client_authentication": "NONE",
            "client_crl_container_ref": None, "tls_ciphers": None, "tls_versions": None,
            "alpn_protocols": None, "hsts_max_age": None, "hsts_include_subdomains": None,
            "hsts_preload": None}


def pool_view(lb: Obj, p: Obj) -> Obj:
    spec = lb["spec"]
    listeners = [{"id": x["id"]} for x in spec.get("listeners") or []
                 if x.get("defaultPoolId") == p["id"]]
    hm = p.get("healthMonitor")
    return {**_common(lb, p), "protocol": p["protocol"], "lb_algorithm": p["lbAlgorithm"],
            "session_persistence": p.get("sessionPersistence"),
            "loadbalancers": [{"id": lb["metadata"]["name"]}], "listeners": listeners,
            "members": [{"id": m["id"]} for m in p.get("members") or []],
            "healthmonitor_id": hm["id"] if hm else None, "tls_enabled": False,
            "tls_container_ref": None, "ca_tls_container_ref": None,
            "crl_container_ref": None, "tls_ciphers": None, "tls_versions": None,
            "alpn_protocols": None}


def member_view(lb: Obj, m: Obj) -> Obj:
    out = {**_common(lb, m), "address": m["address"], "protocol_port": m["protocolPort"],
           "weight": m.get("weight", 1), "backup": m.get("backup", False),
           "subnet_id": m.get("subnetId"), "monitor_address": m.get("monitorAddress"),
           "monitor_port": m.get("monitorPort"), "vnic_type": "normal"}
    out.pop("description", None)
    return out


def monitor_view(lb: Obj, pool: Obj, h: Obj) -> Obj:
    out = {**_common(lb, h), "type": h["type"], "delay": h["delay"], "timeout": h["timeout"],
           "max_retries": h["maxRetries"], "max_retries_down": h.get("maxRetriesDown", 3),
           "http_method": h.get("httpMethod"), "url_path": h.get("urlPath"),
           "expected_codes": h.get("expectedCodes"), "http_version": None,
           "domain_name": None, "pools": [{"id": pool["id"]}]}
    out.pop("description", None)
    return out


def l7policy_view(lb: Obj, listener: Obj, p: Obj) -> Obj:
    position = [x["id"] for x in listener.get("l7policies") or []].index(p["id"]) + 1
    return {**_common(lb, p), "listener_id": listener["id"], "action": p["action"],
            "position": position, "redirect_pool_id": p.get("redirectPoolId"),
            "redirect_url": p.get("redirectUrl"), "redirect_prefix": p.get("redirectPrefix"),
            "redirect_http_code": p.get("redirectHttpCode"),
            "rules": [{"id": r["id"]} for r in p.get("rules") or []]}


def l7rule_view(lb: Obj, r: Obj) -> Obj:
    out = {**_common(lb, r), "type": r["type"], "compare_type": r["compareType"],
           "key": r.get("key"), "value": r["value"], "invert": r.get("invert", False)}
    out.pop("name", None)
    out.pop("description", None)
    return out
