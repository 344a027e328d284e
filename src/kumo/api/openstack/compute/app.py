"""Nova v2.1, the compute service: a facade over Server, Flavor, Keypair, ServerGroup,
InstanceAction, QuotaSet, Host and Lease objects (kumo.model.compute).

Mounted at ``/compute`` (catalog: type "compute", name "nova", path
``/compute/v2.1``). It holds no state: a tenant's request becomes a write of
Server.spec (CAS on resourceVersion, retried on Conflict); the scheduler and the
host agents converge to it and report in Server.status, which the facade only
reads (it sets the initial status at create, nothing after).

    compute.py                 app, routes, version documents
    compute_microversion.py    negotiation (2.1 … 2.100) and response headers
    compute_common.py          caller, Nova errors, bodies, links, CAS helper
    compute_schemas.py         request bodies (pydantic) and microversion gates
    compute_lookup.py          flavor/image/keypair/zone/group references
    compute_views.py           Server → Nova JSON, status from vm/task state
    compute_create.py          POST /servers
    compute_servers.py         list, show, update, delete
    compute_actions.py         POST /servers/{id}/action
    compute_server_meta.py     server metadata and tags
    compute_instance_actions.py  os-instance-actions (InstanceAction + Events)
    compute_flavors.py, compute_extra_specs.py, compute_keypairs.py,
    compute_groups.py, compute_quotas.py (quota sets, limits), compute_hosts.py
    (hypervisors, services, availability zones), compute_aggregates.py (read-only,
    derived from zones), compute_bootstrap.py

    compute_ports.py           requested networks → Ports, addresses, os-interface

Not there yet: volumes
and block device mappings, resize/migrate/shelve/suspend/rescue/snapshot,
consoles other than the text log, personality files, forced hosts.
"""

from __future__ import annotations

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
from . import groups as compute_groups
from . import hosts as compute_hosts
from . import instance_actions as compute_instance_actions
from . import keypairs as compute_keypairs
from . import ports as compute_ports
from . import quotas as compute_quotas
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


def build_app() -> Starlette:
    """The Nova sub-application (mount it at /compute); errors in Nova's format."""
    s, srv = compute_servers, "/v2.1/servers/{server_id}"
    meta, fl = compute_server_meta, "/v2.1/flavors/{flavor_id}"
    hosts, quotas = compute_hosts, compute_quotas
    routes = [
        Route("/", versions), Route("/v2.1", version), Route("/v2.1/", version),
        Route("/v2.1/servers", s.index, methods=["GET"]),
        Route("/v2.1/servers", compute_create.create, methods=["POST"]),
        Route("/v2.1/servers/detail", s.detail, methods=["GET"]),
        Route(srv, s.show, methods=["GET"]), Route(srv, s.update, methods=["PUT"]),
        Route(srv, s.delete, methods=["DELETE"]),
        Route(srv + "/action", compute_actions.action, methods=["POST"]),
        Route(srv + "/metadata", meta.list_metadata, methods=["GET"]),
        Route(srv + "/metadata", meta.create_metadata, methods=["POST"]),
        Route(srv + "/metadata", meta.replace_metadata, methods=["PUT"]),
        Route(srv + "/metadata/{key}", meta.show_metadata_item, methods=["GET"]),
        Route(srv + "/metadata/{key}", meta.update_metadata_item, methods=["PUT"]),
        Route(srv + "/metadata/{key}", meta.delete_metadata_item, methods=["DELETE"]),
        Route(srv + "/tags", meta.list_tags, methods=["GET"]),
        Route(srv + "/tags", meta.replace_tags, methods=["PUT"]),
        Route(srv + "/tags", meta.delete_tags, methods=["DELETE"]),
        Route(srv + "/tags/{tag}", meta.check_tag, methods=["GET"]),
        Route(srv + "/tags/{tag}", meta.add_tag, methods=["PUT"]),
        Route(srv + "/tags/{tag}", meta.delete_tag, methods=["DELETE"]),
        Route(srv + "/os-interface", compute_ports.list_interfaces, methods=["GET"]),
        Route(srv + "/os-interface", compute_ports.attach_interface, methods=["POST"]),
        Route(srv + "/os-interface/{port_id}", compute_ports.show_interface, methods=["GET"]),
        Route(srv + "/os-interface/{port_id}", compute_ports.detach_interface,
              methods=["DELETE"]),
        Route(srv + "/os-instance-actions", compute_instance_actions.index, methods=["GET"]),
        Route(srv + "/os-instance-actions/{request_id}", compute_instance_actions.show,
              methods=["GET"]),
        Route("/v2.1/flavors", compute_flavors.index, methods=["GET"]),
        Route("/v2.1/flavors", compute_flavors.create, methods=["POST"]),
        Route("/v2.1/flavors/detail", compute_flavors.detail, methods=["GET"]),
        Route(fl, compute_flavors.show, methods=["GET"]),
        Route(fl, compute_flavors.update, methods=["PUT"]),
        Route(fl, compute_flavors.delete, methods=["DELETE"]),
        Route(fl + "/action", compute_flavors.flavor_action, methods=["POST"]),
        Route(fl + "/os-flavor-access", compute_flavors.list_access, methods=["GET"]),
        Route(fl + "/os-extra_specs", compute_extra_specs.index, methods=["GET"]),
        Route(fl + "/os-extra_specs", compute_extra_specs.create, methods=["POST"]),
        Route(fl + "/os-extra_specs/{key}", compute_extra_specs.show, methods=["GET"]),
        Route(fl + "/os-extra_specs/{key}", compute_extra_specs.update, methods=["PUT"]),
        Route(fl + "/os-extra_specs/{key}", compute_extra_specs.delete, methods=["DELETE"]),
        Route("/v2.1/os-keypairs", compute_keypairs.index, methods=["GET"]),
        Route("/v2.1/os-keypairs", compute_keypairs.create, methods=["POST"]),
        Route("/v2.1/os-keypairs/{name}", compute_keypairs.show, methods=["GET"]),
        Route("/v2.1/os-keypairs/{name}", compute_keypairs.delete, methods=["DELETE"]),
        Route("/v2.1/os-server-groups", compute_groups.index, methods=["GET"]),
        Route("/v2.1/os-server-groups", compute_groups.create, methods=["POST"]),
        Route("/v2.1/os-server-groups/{group_id}", compute_groups.show, methods=["GET"]),
        Route("/v2.1/os-server-groups/{group_id}", compute_groups.delete, methods=["DELETE"]),
        Route("/v2.1/limits", quotas.limits, methods=["GET"]),
        Route("/v2.1/os-quota-sets/{project_id}", quotas.show_quota, methods=["GET"]),
        Route("/v2.1/os-quota-sets/{project_id}", quotas.update_quota, methods=["PUT"]),
        Route("/v2.1/os-quota-sets/{project_id}", quotas.delete_quota, methods=["DELETE"]),
        Route("/v2.1/os-quota-sets/{project_id}/detail", quotas.detail_quota, methods=["GET"]),
        Route("/v2.1/os-quota-sets/{project_id}/defaults", quotas.defaults_quota,
              methods=["GET"]),
        Route("/v2.1/os-hypervisors", hosts.hypervisors, methods=["GET"]),
        Route("/v2.1/os-hypervisors/detail", hosts.hypervisors_detail, methods=["GET"]),
        Route("/v2.1/os-hypervisors/statistics", hosts.hypervisor_statistics, methods=["GET"]),
        Route("/v2.1/os-hypervisors/{hypervisor_id}", hosts.hypervisor_show, methods=["GET"]),
        Route("/v2.1/os-services", hosts.services, methods=["GET"]),
        Route("/v2.1/os-services/{service_id}", hosts.service_update, methods=["PUT"]),
        Route("/v2.1/os-services/{service_id}", hosts.service_delete, methods=["DELETE"]),
        Route("/v2.1/os-availability-zone", hosts.zones, methods=["GET"]),
        Route("/v2.1/os-availability-zone/detail", hosts.zones_detail, methods=["GET"]),
        Route("/v2.1/os-aggregates", compute_aggregates.index, methods=["GET"]),
        Route("/v2.1/os-aggregates/{aggregate_id}", compute_aggregates.show, methods=["GET"]),
    ]
    return Starlette(routes=routes, middleware=[Middleware(MicroversionMiddleware)],
                     exception_handlers=handlers(nova_body))
