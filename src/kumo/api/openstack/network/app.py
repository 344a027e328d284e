"""Neutron v2.0, the networking service: a facade over Network, Subnet, Port,
SecurityGroup(Rule), the IP/MAC/segment allocation records and QuotaSet "network"
(kumo.model.network).

Mounted at ``/network`` (catalog: type "network", name "neutron"). Errors render as
``{"NeutronError": {"type", "message", "detail"}}``.

    app.py         app, routes, version documents, extensions, tags
    errors.py      Neutron's errors, and domain refusals mapped to them
    common.py      caller, bodies, value converters, lookups, CAS write, quotas
    lists.py       list queries: filters, sort, pagination, fields
    networks.py    networks (VNI via SegmentAllocation)
    subnets.py     subnets (IPv4 validation)
    ports.py       ports (views, handlers); port_parse.py: bodies → core requests
    secgroups.py   security groups; sg_rules.py: rules (stored, not enforced yet)
    routers.py     routers, their interfaces and extra routes (kumo.core.routers)
    subnetpools.py subnet pools (allocation: kumo.core.subnetpools)
    address_scopes.py address scopes (pools in one scope never overlap)
    rbac.py        rbac-policies: networks shared per project (kumo.core.rbac)
    ip_availability.py network-ip-availabilities (kumo.core.ip_availability)
    floatingips.py floating IPs (kumo.core.floatingips); bootstrap.py: `public`
    quotas.py, agents.py, bulk.py

IPAM and the port lifecycle are kumo.core's (core/ipam.py, core/ports.py).

Not there yet: DVR/HA routers, floating-IP port forwarding, IPv6, trunks,
QoS, bulk creates.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ...runtime import Runtime, runtime
from . import address_scopes as network_scopes
from . import agents as network_agents
from . import floatingips as network_fips
from . import ip_availability as network_ipavail
from . import networks as network_networks
from . import ports as network_ports
from . import quotas as network_quotas
from . import rbac as network_rbac
from . import routers as network_routers
from . import secgroups as network_secgroups
from . import sg_rules
from . import subnetpools as network_subnetpools
from . import subnets as network_subnets
from .bulk import bulk
from .common import Finder, caller, check_tag, mutate, read_body, to_tags, writable
from .errors import bad_request, err, neutron_handlers

Obj = dict[str, Any]
UPDATED = "2013-01-01T00:00:00-00:00"
EXTENSIONS: list[tuple[str, str, str]] = [
    ("security-group", "security-group", "The security groups extension."),
    ("quotas", "Quota management support", "Expose functions for quotas management per "
     "project"),
    ("quota_details", "Quota details management support", "Expose functions for quotas "
     "usage statistics per project"),
    ("port-security", "Port Security", "Provides port security"),
    ("binding", "Port Binding", "Expose port bindings of a virtual port to external "
     "application"),
    ("allowed-address-pairs", "Allowed Address Pairs", "Provides allowed address pairs"),
    ("provider", "Provider Network", "Expose mapping of virtual networks to physical "
     "networks"),
    ("standard-attr-description", "standard-attr-description", "Extension to add "
     "descriptions to standard attributes"),
    ("standard-attr-timestamp", "Resource timestamps", "Adds created_at and updated_at "
     "fields to all Neutron resources that have Neutron standard attributes."),
    ("standard-attr-revisions", "Resource revision numbers", "This extension will display "
     "the revision number of neutron resources."),
    ("standard-attr-tag", "Tag support for resources with standard attribute: subnet, "
     "network, port, security_group", "Enables to set tag on resources with standard "
     "attribute."),
    ("net-mtu", "Network MTU", "Provides MTU attribute for a network resource."),
    ("net-mtu-writable", "Network MTU (writable)", "Provides a writable MTU attribute for a "
     "network resource."),
    ("l2_adjacency", "L2 Adjacency", "Display L2 Adjacency for Neutron Networks."),
    ("project-id", "project_id field enabled", "Extension that indicates that project_id "
     "field is enabled."),
    ("sorting", "Sorting support", "Enabled sorting support"),
    ("pagination", "Pagination support", "Enabled pagination support"),
    ("filter-validation", "Filter parameters validation", "Provides validation on filter "
     "parameters."),
    ("router", "Neutron L3 Router", "Router abstraction for basic L3 forwarding between L2 "
     "Neutron networks and access to external networks via a NAT gateway."),
    ("ext-gw-mode", "Neutron L3 Configurable external gateway mode", "Extension of the "
     "router abstraction for specifying whether SNAT should occur on the external gateway"),
    ("extraroute", "Neutron Extra Route", "Extra routes configuration for L3 router"),
    ("external-net", "Neutron external network", "Adds external network attribute to "
     "network resource."),
    ("stateful-security-group", "Stateful security group", "Indicates if the security "
     "group is stateful or not"),
    ("dns-integration", "DNS Integration", "Provides integration with DNS."),
    ("subnet_allocation", "Subnet Allocation", "Enables allocation of subnets from a subnet "
     "pool"),
    ("default-subnetpools", "Default Subnetpools", "Provides ability to mark and use a "
     "subnetpool as the default."),
    ("ip-substring-filtering", "IP address substring filtering", "Provides IP address "
     "substring filtering when listing ports"),
    ("address-scope", "Address scope", "Address scopes extension."),
    ("rbac-policies", "RBAC Policies", "Allows creation and modification of policies that "
     "control tenant access to resources."),
    ("network-ip-availability", "Network IP Availability", "Provides IP availability data "
     "for each network and subnet."),
    ("service-type", "Neutron Service Type Management", "API for retrieving service "
     "providers for Neutron advanced services"),
    ("tag", "Tag support", "Enables to set tag on resources."),
    ("tag-ext", "Tag support for resources: subnet, subnetpool, port, router", "Extends tag "
     "support to more L2 and L3 resources."),
]


def network_root(request: Request) -> str:
    return runtime(request).config.base_url.rstrip("/") + "/network"


async def versions(request: Request) -> Response:
    return JSONResponse({"versions": [{
        "id": "v2.0", "status": "CURRENT",
        "links": [{"href": f"{network_root(request)}/v2.0/", "rel": "self"}]}]})


async def resources(request: Request) -> Response:
    base = f"{network_root(request)}/v2.0"
    names = [("network", "networks"), ("subnet", "subnets"), ("port", "ports"),
             ("security_group", "security-groups"),
             ("security_group_rule", "security-group-rules"), ("quota", "quotas"),
             ("router", "routers"), ("floatingip", "floatingips"),
             ("subnetpool", "subnetpools"),
             ("network_ip_availability", "network-ip-availabilities"),
             ("address_scope", "address-scopes"), ("rbac_policy", "rbac-policies"),
             ("extension", "extensions")]
    return JSONResponse({"resources": [
        {"name": n, "collection": col, "links": [{"href": f"{base}/{col}", "rel": "self"}]}
        for n, col in names]})


def _ext(alias: str, name: str, description: str) -> Obj:
    return {"alias": alias, "name": name, "description": description, "updated": UPDATED,
            "links": []}


async def extensions(request: Request) -> Response:
    await caller(request)
    return JSONResponse({"extensions": [_ext(*e) for e in EXTENSIONS]})


async def extension(request: Request) -> Response:
    await caller(request)
    alias = request.path_params["alias"]
    for e in EXTENSIONS:
        if e[0] == alias:
            return JSONResponse({"extension": _ext(*e)})
    raise err(404, "HTTPNotFound", f"Extension with alias {alias} does not exist")


# ---- tags ---------------------------------------------------------------------------
_FINDERS: dict[str, Finder] = {
    "networks": network_networks.find_network,
    "subnets": network_subnets.find_subnet,
    "ports": network_ports.find_port,
    "security-groups": network_secgroups.find_group,
    "routers": network_routers.find_router,
    "floatingips": network_fips.find_fip,
    "subnetpools": network_subnetpools.find_pool,
}


async def _target(request: Request, write: bool) -> tuple[Runtime, Obj]:
    c = await caller(request)
    rt = runtime(request)
    coll = request.path_params["collection"]
    finder = _FINDERS.get(coll)
    if finder is None:
        raise err(404, "HTTPNotFound", "The resource could not be found.")
    obj = await finder(rt, c, request.path_params["resource_id"])
    if write:
        writable(c, obj, f"update_{coll.rstrip('s').replace('-', '_')}:tags")
    return rt, obj


def _tags(obj: Obj) -> list[str]:
    return list(obj["spec"].get("tags") or [])


async def list_tags(request: Request) -> Response:
    _, obj = await _target(request, False)
    return JSONResponse({"tags": _tags(obj)})


async def check_tag_exists(request: Request) -> Response:
    _, obj = await _target(request, False)
    tag = request.path_params["tag"]
    if tag not in _tags(obj):
        raise err(404, "TagNotFound", f"Tag {tag} could not be found.")
    return Response(status_code=204)


async def replace_tags(request: Request) -> Response:
    rt, obj = await _target(request, True)
    data = await body_of_tags(request)
    tags = to_tags(data)
    obj = await mutate(rt, obj, lambda o: o["spec"].__setitem__("tags", tags))
    return JSONResponse({"tags": _tags(obj)})


async def body_of_tags(request: Request) -> Any:
    data = await read_body(request)
    if "tags" not in data:
        raise bad_request("Invalid input for tags. Reason: 'tags' is required.")
    return data["tags"]


async def add_tag(request: Request) -> Response:
    rt, obj = await _target(request, True)
    tag = request.path_params["tag"]
    check_tag(tag)

    def add(o: Obj) -> None:
        tags = list(o["spec"].get("tags") or [])
        if tag not in tags:
            tags.append(tag)
        o["spec"]["tags"] = tags

    await mutate(rt, obj, add)
    return Response(status_code=201)


async def delete_tags(request: Request) -> Response:
    rt, obj = await _target(request, True)
    await mutate(rt, obj, lambda o: o["spec"].__setitem__("tags", []))
    return Response(status_code=204)


async def delete_tag(request: Request) -> Response:
    rt, obj = await _target(request, True)
    tag = request.path_params["tag"]
    if tag not in _tags(obj):
        raise err(404, "TagNotFound", f"Tag {tag} could not be found.")
    await mutate(rt, obj, lambda o: o["spec"].__setitem__(
        "tags", [t for t in o["spec"].get("tags") or [] if t != tag]))
    return Response(status_code=204)


def l3_routes() -> list[Route]:
    """Routers (with their interface actions) and floating IPs."""
    r, f = network_routers, network_fips
    one_r, one_f = "/v2.0/routers/{router_id}", "/v2.0/floatingips/{floatingip_id}"
    return [
        Route("/v2.0/routers", r.index, methods=["GET"]),
        Route("/v2.0/routers", r.create, methods=["POST"]),
        Route(one_r, r.show, methods=["GET"]), Route(one_r, r.update, methods=["PUT"]),
        Route(one_r, r.delete, methods=["DELETE"]),
        Route(one_r + "/add_router_interface", r.add_interface, methods=["PUT"]),
        Route(one_r + "/remove_router_interface", r.remove_interface, methods=["PUT"]),
        Route("/v2.0/floatingips", f.index, methods=["GET"]),
        Route("/v2.0/floatingips", f.create, methods=["POST"]),
        Route(one_f, f.show, methods=["GET"]), Route(one_f, f.update, methods=["PUT"]),
        Route(one_f, f.delete, methods=["DELETE"]),
        *subnetpool_routes()]


def subnetpool_routes() -> list[Route]:
    """Subnet pools, address scopes, RBAC policies, IP availability."""
    p, one = network_subnetpools, "/v2.0/subnetpools/{subnetpool_id}"
    scope = "/v2.0/address-scopes/{address_scope_id}"
    rbac = "/v2.0/rbac-policies/{rbac_id}"
    return [Route("/v2.0/subnetpools", p.index, methods=["GET"]),
            Route("/v2.0/subnetpools", p.create, methods=["POST"]),
            Route(one, p.show, methods=["GET"]), Route(one, p.update, methods=["PUT"]),
            Route(one, p.delete, methods=["DELETE"]),
            Route("/v2.0/address-scopes", network_scopes.index, methods=["GET"]),
            Route("/v2.0/address-scopes", network_scopes.create, methods=["POST"]),
            Route(scope, network_scopes.show, methods=["GET"]),
            Route(scope, network_scopes.update, methods=["PUT"]),
            Route(scope, network_scopes.delete, methods=["DELETE"]),
            Route("/v2.0/rbac-policies", network_rbac.index, methods=["GET"]),
            Route("/v2.0/rbac-policies", network_rbac.create, methods=["POST"]),
            Route(rbac, network_rbac.show, methods=["GET"]),
            Route(rbac, network_rbac.update, methods=["PUT"]),
            Route(rbac, network_rbac.delete, methods=["DELETE"]),
            Route("/v2.0/network-ip-availabilities", network_ipavail.index, methods=["GET"]),
            Route("/v2.0/network-ip-availabilities/{network_id}", network_ipavail.show,
                  methods=["GET"])]


def build_app() -> Starlette:
    """The Neutron sub-application (mount it at /network); errors in Neutron's format."""
    nets, subs, ports = network_networks, network_subnets, network_ports
    sgs, q = network_secgroups, network_quotas
    tags = "/v2.0/{collection}/{resource_id}/tags"
    routes = [
        Route("/", versions), Route("/v2.0", resources), Route("/v2.0/", resources),
        Route("/v2.0/extensions", extensions, methods=["GET"]),
        Route("/v2.0/extensions/{alias}", extension, methods=["GET"]),
        Route("/v2.0/networks", nets.index, methods=["GET"]),
        Route("/v2.0/networks", bulk(nets.create, nets.delete, "network", "networks",
                                     "network_id"), methods=["POST"]),
        Route("/v2.0/networks/{network_id}", nets.show, methods=["GET"]),
        Route("/v2.0/networks/{network_id}", nets.update, methods=["PUT"]),
        Route("/v2.0/networks/{network_id}", nets.delete, methods=["DELETE"]),
        Route("/v2.0/subnets", subs.index, methods=["GET"]),
        Route("/v2.0/subnets", bulk(subs.create, subs.delete, "subnet", "subnets",
                                    "subnet_id"), methods=["POST"]),
        Route("/v2.0/subnets/{subnet_id}", subs.show, methods=["GET"]),
        Route("/v2.0/subnets/{subnet_id}", subs.update, methods=["PUT"]),
        Route("/v2.0/subnets/{subnet_id}", subs.delete, methods=["DELETE"]),
        Route("/v2.0/ports", ports.index, methods=["GET"]),
        Route("/v2.0/ports", bulk(ports.create, ports.delete, "port", "ports", "port_id"),
              methods=["POST"]),
        Route("/v2.0/ports/{port_id}", ports.show, methods=["GET"]),
        Route("/v2.0/ports/{port_id}", ports.update, methods=["PUT"]),
        Route("/v2.0/ports/{port_id}", ports.delete, methods=["DELETE"]),
        Route("/v2.0/security-groups", sgs.index, methods=["GET"]),
        Route("/v2.0/security-groups", sgs.create, methods=["POST"]),
        Route("/v2.0/security-groups/{group_id}", sgs.show, methods=["GET"]),
        Route("/v2.0/security-groups/{group_id}", sgs.update, methods=["PUT"]),
        Route("/v2.0/security-groups/{group_id}", sgs.delete, methods=["DELETE"]),
        Route("/v2.0/security-group-rules", sg_rules.index, methods=["GET"]),
        Route("/v2.0/security-group-rules", sg_rules.create, methods=["POST"]),
        Route("/v2.0/security-group-rules/{rule_id}", sg_rules.show, methods=["GET"]),
        Route("/v2.0/security-group-rules/{rule_id}", sg_rules.delete, methods=["DELETE"]),
        *l3_routes(),
        Route("/v2.0/agents", network_agents.index, methods=["GET"]),
        Route("/v2.0/service-providers", network_agents.service_providers, methods=["GET"]),
        Route("/v2.0/agents/{agent_id}", network_agents.show, methods=["GET"]),
        Route("/v2.0/quotas", q.index, methods=["GET"]),
        Route("/v2.0/quotas/{project_id}", q.show, methods=["GET"]),
        Route("/v2.0/quotas/{project_id}", q.update, methods=["PUT"]),
        Route("/v2.0/quotas/{project_id}", q.delete, methods=["DELETE"]),
        Route("/v2.0/quotas/{project_id}/details", q.details, methods=["GET"]),
        Route("/v2.0/quotas/{project_id}/default", q.defaults, methods=["GET"]),
        Route(tags, list_tags, methods=["GET"]),
        Route(tags, replace_tags, methods=["PUT"]),
        Route(tags, delete_tags, methods=["DELETE"]),
        Route(tags + "/{tag}", check_tag_exists, methods=["GET"]),
        Route(tags + "/{tag}", add_tag, methods=["PUT"]),
        Route(tags + "/{tag}", delete_tag, methods=["DELETE"]),
    ]
    return Starlette(routes=routes, exception_handlers=neutron_handlers())

