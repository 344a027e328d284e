"""Nova v2.1, the compute service: a facade over Server, Flavor, Keypair, ServerGroup,
InstanceAction, QuotaSet, Host and Lease objects (kumo.model.compute).

Mounted at ``/compute`` (catalog: type "compute", name "nova", path
``/compute/v2.1``). It holds no state: a tenant's request becomes a write of
Server.spec (``ObjectStore.mutate``: CAS on resourceVersion, retried on Conflict);
the scheduler and the host agents converge to it and report in Server.status,
which the facade only reads (it sets the initial status at create, nothing after).

    app.py               app, routes, version documents
    microversion.py      negotiation (2.1 … 2.100) and response headers
    common.py            caller, Nova errors, bodies, links, paging, CAS helper
    schemas.py           request bodies (pydantic) and microversion gates
    lookup.py            flavor/image/keypair/zone/group references
    views.py             Server → Nova JSON, status from vm/task state
    create.py            POST /servers          usage.py   watch-fed quota usage
    servers.py           list, show, update, delete
    actions.py           POST /servers/{id}/action
    server_meta.py       server metadata and tags
    instance_actions.py  os-instance-actions (InstanceAction + Events)
    flavors.py, extra_specs.py, keypairs.py, groups.py, quotas.py (quota sets,
    limits), hosts.py (hypervisors, services, availability zones), aggregates.py
    (read-only, derived from zones), bootstrap.py
    ports.py             requested networks → Ports, addresses, os-interface

Not there yet: volumes
and block device mappings, resize/migrate/shelve/suspend/rescue/snapshot,
consoles other than the text log, personality files, forced hosts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ...errors import handlers, nova_body
from . import actions as compute_actions
from . import aggregates as compute_aggregates
from . import create as compute_create
from . import extra_specs as compute_extra_specs
from . import flavors as compute_flavors
from . import floating_ips as compute_fips
from . import groups as compute_groups
from . import hosts as compute_hosts
from . import images_proxy as compute_images
from . import instance_actions as compute_instance_actions
from . import keypairs as compute_keypairs
from . import ports as compute_ports
from . import quotas as compute_quotas
from . import secgroups as compute_secgroups
from . import server_meta as compute_server_meta
from . import servers as compute_servers
from .common import compute_root
from .microversion import MAX_VERSION, MIN_VERSION, MicroversionMiddleware, vstr


def _version_doc(request: Request) -> dict[str, Any]:
    return {"id": "v2.1", "status": "CURRENT", "version": vstr(MAX_VERSION),
            "min_version": vstr(MIN_VERSION), "updated": "2013-07-23T11:33:21Z",
            "links": [{"rel": "self", "href": f"{compute_root(request)}/v2.1/"},
                      {"rel": "describedby", "type": "text/html",
                       "href": "http://docs.openstack.org/"}],
            "media-types": [{"base": "application/json",
                             "type": "application/vnd.openstack.compute+json;version=2.1"}]}


async def versions(request: Request) -> Response:
    doc = _version_doc(request)
    doc["links"] = doc["links"][:1]
    doc.pop("media-types")
    return JSONResponse({"versions": [doc]})


async def version(request: Request) -> Response:
    return JSONResponse({"version": _version_doc(request)})


Handler = Callable[[Request], Awaitable[Response]]


def _at(path: str, **by_method: Handler) -> list[Route]:
    """One path's routes, one per HTTP method (``get=``, ``post=`` ...)."""
    return [Route(path, h, methods=[m.upper()]) for m, h in by_method.items()]


def _server_routes() -> list[Route]:
    s, meta, ports = compute_servers, compute_server_meta, compute_ports
    srv, ia = "/v2.1/servers/{server_id}", compute_instance_actions
    return [
        *_at("/v2.1/servers", get=s.index, post=compute_create.create),
        *_at("/v2.1/servers/detail", get=s.detail),
        *_at(srv, get=s.show, put=s.update, delete=s.delete),
        *_at(srv + "/action", post=compute_actions.action),
        *_at(srv + "/metadata", get=meta.list_metadata, post=meta.create_metadata,
             put=meta.replace_metadata),
        *_at(srv + "/metadata/{key}", get=meta.show_metadata_item,
             put=meta.update_metadata_item, delete=meta.delete_metadata_item),
        *_at(srv + "/tags", get=meta.list_tags, put=meta.replace_tags, delete=meta.delete_tags),
        *_at(srv + "/tags/{tag}", get=meta.check_tag, put=meta.add_tag, delete=meta.delete_tag),
        *_at(srv + "/os-interface", get=ports.list_interfaces, post=ports.attach_interface),
        *_at(srv + "/os-interface/{port_id}", get=ports.show_interface,
             delete=ports.detach_interface),
        *_at(srv + "/os-instance-actions", get=ia.index),
        *_at(srv + "/os-security-groups", get=compute_secgroups.server_groups),
        *_at(srv + "/os-instance-actions/{request_id}", get=ia.show),
    ]


def _flavor_and_tenant_routes() -> list[Route]:
    f, x, fl = compute_flavors, compute_extra_specs, "/v2.1/flavors/{flavor_id}"
    k, g = compute_keypairs, compute_groups
    return [
        *_at("/v2.1/flavors", get=f.index, post=f.create),
        *_at("/v2.1/flavors/detail", get=f.detail),
        *_at(fl, get=f.show, put=f.update, delete=f.delete),
        *_at(fl + "/action", post=f.flavor_action),
        *_at(fl + "/os-flavor-access", get=f.list_access),
        *_at(fl + "/os-extra_specs", get=x.index, post=x.create),
        *_at(fl + "/os-extra_specs/{key}", get=x.show, put=x.update, delete=x.delete),
        *_at("/v2.1/os-keypairs", get=k.index, post=k.create),
        *_at("/v2.1/os-keypairs/{name}", get=k.show, delete=k.delete),
        *_at("/v2.1/os-server-groups", get=g.index, post=g.create),
        *_at("/v2.1/os-server-groups/{group_id}", get=g.show, delete=g.delete),
        *_at("/v2.1/images", get=compute_images.index),
        *_at("/v2.1/images/detail", get=compute_images.detail),
        *_at("/v2.1/images/{image_id}", get=compute_images.show, delete=compute_images.delete),
        *_at("/v2.1/os-floating-ips", get=compute_fips.index),
        *_at("/v2.1/os-floating-ips/{floating_ip_id}", get=compute_fips.show),
        *_at("/v2.1/os-security-groups", get=compute_secgroups.index),
        *_at("/v2.1/os-security-groups/{group_id}", get=compute_secgroups.show),
    ]


def _admin_routes() -> list[Route]:
    q, h, qs = compute_quotas, compute_hosts, "/v2.1/os-quota-sets/{project_id}"
    return [
        *_at("/v2.1/limits", get=q.limits),
        *_at(qs, get=q.show_quota, put=q.update_quota, delete=q.delete_quota),
        *_at(qs + "/detail", get=q.detail_quota),
        *_at(qs + "/defaults", get=q.defaults_quota),
        *_at("/v2.1/os-hypervisors", get=h.hypervisors),
        *_at("/v2.1/os-hypervisors/detail", get=h.hypervisors_detail),
        *_at("/v2.1/os-hypervisors/statistics", get=h.hypervisor_statistics),
        *_at("/v2.1/os-hypervisors/{hypervisor_id}", get=h.hypervisor_show),
        *_at("/v2.1/os-services", get=h.services),
        *_at("/v2.1/os-services/{service_id}", put=h.service_update, delete=h.service_delete),
        *_at("/v2.1/os-availability-zone", get=h.zones),
        *_at("/v2.1/os-availability-zone/detail", get=h.zones_detail),
        *_at("/v2.1/os-aggregates", get=compute_aggregates.index),
        *_at("/v2.1/os-aggregates/{aggregate_id}", get=compute_aggregates.show),
    ]


def build_app() -> Starlette:
    """The Nova sub-application (mount it at /compute); errors in Nova's format."""
    routes = [Route("/", versions), Route("/v2.1", version), Route("/v2.1/", version),
              *_server_routes(), *_flavor_and_tenant_routes(), *_admin_routes()]
    return Starlette(routes=routes, middleware=[Middleware(MicroversionMiddleware)],
                     exception_handlers=handlers(nova_body))
