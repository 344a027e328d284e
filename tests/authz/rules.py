"""The rule table of the authorization matrix: for every route, what each caller gets.

Callers, in this order: no token, a member of another project, a reader of the owning
project, a member of the owning project (who made the seeded objects), an admin of
another project (``admin`` on any project is the cloud admin in kumo, as in Keystone's
default policy). Outcomes: "2xx", "3xx", an exact status, or "ok" (the caller passed
authorization; the answer depends on the object's state, e.g. 409 for a public flavor).

A route missing here fails the matrix ("new route without a rule"). Native routes are
expanded per kind; every kind needs an entry in ``NATIVE_KINDS``.
"""

from __future__ import annotations

Outcome = tuple[str, str, str, str, str]

PUBLIC: Outcome = ("2xx", "2xx", "2xx", "2xx", "2xx")
TOKEN: Outcome = ("401", "2xx", "2xx", "2xx", "2xx")  # any valid token (lists are scoped)
READ: Outcome = ("401", "404", "2xx", "2xx", "2xx")  # the owning project's object
WRITE: Outcome = ("401", "404", "403", "2xx", "2xx")
CREATE: Outcome = ("401", "2xx", "403", "2xx", "2xx")  # in the caller's own project
ADMIN: Outcome = ("401", "403", "403", "403", "2xx")
ADMIN_OK: Outcome = ("401", "403", "403", "403", "ok")
PROJECT: Outcome = ("401", "403", "2xx", "2xx", "2xx")  # project-scoped reads (quotas)
SELF: Outcome = ("401", "403", "403", "2xx", "2xx")  # the owner user's own record
OWN_CREDS: Outcome = ("401", "404", "404", "2xx", "2xx")
IMAGE_OWNER: Outcome = ("401", "403", "403", "2xx", "2xx")  # B sees the image (a member)
USER_KEYPAIR: Outcome = ("401", "404", "404", "2xx", "404")  # admins name ?user_id

# Designate: an admin sees other projects' zones only with X-Auth-All-Projects (as
# Designate, whose lookups are project-filtered without it): 404 like a stranger
DNS_READ: Outcome = ("401", "404", "2xx", "2xx", "404")
DNS_WRITE: Outcome = ("401", "404", "403", "2xx", "404")
_Z = "/dns/v2/zones/{zone_id}"
DNS_RULES: dict[str, Outcome] = {
    "GET /dns/": PUBLIC, "GET /dns/v2": PUBLIC, "GET /dns/v2/": PUBLIC,
    "GET /dns/v2/zones": TOKEN, "POST /dns/v2/zones": CREATE,
    f"GET {_Z}": DNS_READ, f"PATCH {_Z}": DNS_WRITE, f"DELETE {_Z}": DNS_WRITE,
    f"GET {_Z}/nameservers": DNS_READ,
    f"GET {_Z}/shares": DNS_READ, f"POST {_Z}/shares": DNS_WRITE,
    f"GET {_Z}/shares/{{share_id}}": DNS_READ, f"DELETE {_Z}/shares/{{share_id}}": DNS_WRITE,
    f"GET {_Z}/recordsets": DNS_READ, f"POST {_Z}/recordsets": DNS_WRITE,
    f"GET {_Z}/recordsets/{{recordset_id}}": DNS_READ,
    f"PUT {_Z}/recordsets/{{recordset_id}}": DNS_WRITE,
    f"DELETE {_Z}/recordsets/{{recordset_id}}": DNS_WRITE,
    "GET /dns/v2/recordsets": TOKEN,
    # a floating IP's PTR: its project's (an admin without all_projects acts in its own)
    "GET /dns/v2/reverse/floatingips": TOKEN,
    "GET /dns/v2/reverse/floatingips/{fip_key}": DNS_READ,
    "PATCH /dns/v2/reverse/floatingips/{fip_key}": DNS_WRITE,
    "GET /dns/v2/quotas/{project_id}": PROJECT,
    "PATCH /dns/v2/quotas/{project_id}": ADMIN,
    "DELETE /dns/v2/quotas/{project_id}": ADMIN,
    "GET /dns/v2/pools": TOKEN,
    "GET /dns/v2/service_statuses": ADMIN,
    "GET /dns/v2/service_statuses/{status_id}": ADMIN,
    "GET /dns/v2/recordsets/{recordset_id}": ("401", "404", "3xx", "3xx", "404"),  # 301
    "GET /dns/v2/limits": TOKEN, "GET /dns/v2/quotas": TOKEN,
    "GET /dns/v2/pools/{pool_id}": TOKEN,
    "GET /dns/v2/zones/tasks/imports": TOKEN, "POST /dns/v2/zones/tasks/imports": CREATE,
    "GET /dns/v2/zones/tasks/imports/{task_id}": DNS_READ,
    "DELETE /dns/v2/zones/tasks/imports/{task_id}": DNS_WRITE,
    "DELETE /dns/v2/zones/tasks/exports/{task_id}": DNS_WRITE,
    "GET /dns/v2/zones/tasks/exports": TOKEN,
    "GET /dns/v2/zones/tasks/exports/{task_id}": DNS_READ,
    "GET /dns/v2/zones/tasks/exports/{task_id}/export": DNS_READ,
    f"POST {_Z}/tasks/export": DNS_WRITE,
    f"POST {_Z}/tasks/transfer_requests": DNS_WRITE,
    "GET /dns/v2/zones/tasks/transfer_requests": TOKEN,
    # the seeded request is offered to the other project (whose admin is "other_admin")
    "GET /dns/v2/zones/tasks/transfer_requests/{task_id}": TOKEN,
    "PATCH /dns/v2/zones/tasks/transfer_requests/{task_id}": DNS_WRITE,
    "DELETE /dns/v2/zones/tasks/transfer_requests/{task_id}": DNS_WRITE,
    "GET /dns/v2/zones/tasks/transfer_accepts": TOKEN,
    "POST /dns/v2/zones/tasks/transfer_accepts": CREATE,
    "GET /dns/v2/zones/tasks/transfer_accepts/{task_id}": DNS_READ,
    **{f"{m} /dns/v2/{p}{tail}": ADMIN for p in ("tsigkeys", "tlds", "blacklists")
       for m, tail in (("GET", ""), ("POST", ""), ("GET", "/{item_id}"),
                       ("PATCH", "/{item_id}"), ("DELETE", "/{item_id}"))},
}

# The console: no session → the login form (303); a form post without the page's CSRF
# token → 403 for everyone, before anything else runs; pages show what the API shows.
CONSOLE_PAGE: Outcome = ("3xx", "2xx", "2xx", "2xx", "2xx")
CONSOLE_OBJECT: Outcome = ("3xx", "404", "2xx", "2xx", "2xx")
CONSOLE_ADMIN: Outcome = ("3xx", "403", "403", "403", "2xx")
CONSOLE_POST: Outcome = ("403",) * 5
CONSOLE: dict[str, Outcome] = {
    "GET /console/login": PUBLIC,
    **{f"GET /console{p}": CONSOLE_PAGE for p in (
        "/", "/servers", "/servers/new", "/list/{collection}", "/images", "/keypairs")},
    "GET /console/servers/{server_id}": CONSOLE_OBJECT,
    "GET /console/trace/{kind}/{object_id}": CONSOLE_OBJECT,
    "GET /console/admin/hosts": CONSOLE_ADMIN,
    "GET /console/admin/doctor": CONSOLE_ADMIN,
    **{f"POST /console{p}": CONSOLE_POST for p in (
        "/login", "/logout", "/project", "/servers", "/servers/{server_id}/action",
        "/networks")},
}

RULES: dict[str, Outcome] = {
    **CONSOLE,
    "GET /": ("3xx",) * 5,
    "GET /metrics": ADMIN,  # admin or the service user; unauthenticated only on metrics_listen
    "GET /debug/state": ADMIN,
    "GET /diagnose/v1/doctor": ADMIN,  # kumo doctor reads every host and project
    "GET /diagnose/v1/trace/{kind}/{object_id}": READ,  # the owner's project; hosts hashed
    "GET /healthz": PUBLIC,
    "GET /apis": PUBLIC,
    "GET /apis/": PUBLIC,
    "GET /apis/kumo.io/v1": PUBLIC,
    "GET /v3/": PUBLIC,
    "DELETE /v3/auth/tokens": TOKEN,
    "GET /v3/auth/tokens": TOKEN,
    "POST /v3/auth/tokens": ("404", "2xx", "2xx", "2xx", "2xx"),  # a forged token: not found
    "GET /v3/auth/projects": TOKEN,
    "GET /v3/auth/domains": TOKEN,
    "GET /v3/auth/catalog": TOKEN,
    "GET /v3/auth/system": TOKEN,
    "GET /v3/domains": ADMIN,
    "POST /v3/domains": ADMIN,
    "DELETE /v3/domains/{id}": ADMIN,
    "GET /v3/domains/{id}": TOKEN,
    "PATCH /v3/domains/{id}": ADMIN,
    "GET /v3/projects": ADMIN,
    "POST /v3/projects": ADMIN,
    "DELETE /v3/projects/{id}": ADMIN,
    "GET /v3/projects/{id}": PROJECT,
    "PATCH /v3/projects/{id}": ADMIN,
    "GET /v3/users": ADMIN,
    "POST /v3/users": ADMIN,
    "DELETE /v3/users/{id}": ADMIN,
    "GET /v3/users/{id}": SELF,
    "PATCH /v3/users/{id}": ADMIN,
    "POST /v3/users/{id}/password": ("401", "403", "403", "401", "401"),  # 401: wrong original
    "GET /v3/users/{id}/projects": SELF,
    "GET /v3/users/{id}/groups": SELF,
    "GET /v3/users/{id}/application_credentials": OWN_CREDS,
    "POST /v3/users/{id}/application_credentials": ("401", "404", "404", "2xx", "403"),  # own only
    "DELETE /v3/users/{id}/application_credentials/{cred}": OWN_CREDS,
    "GET /v3/users/{id}/application_credentials/{cred}": OWN_CREDS,
    "GET /v3/groups": ADMIN,
    "POST /v3/groups": ADMIN,
    "DELETE /v3/groups/{id}": ADMIN,
    "GET /v3/groups/{id}": ADMIN,
    "GET /v3/roles": TOKEN,
    "POST /v3/roles": ADMIN,
    "DELETE /v3/roles/{id}": ADMIN,
    "GET /v3/roles/{id}": TOKEN,
    "PATCH /v3/roles/{id}": ADMIN,
    "GET /v3/role_inferences": TOKEN,
    "GET /v3/{scopes:str}/{scope}/{actors:str}/{actor}/roles": ADMIN,
    "DELETE /v3/{scopes:str}/{scope}/{actors:str}/{actor}/roles/{role}": ADMIN,
    "GET /v3/{scopes:str}/{scope}/{actors:str}/{actor}/roles/{role}": ADMIN,
    "PUT /v3/{scopes:str}/{scope}/{actors:str}/{actor}/roles/{role}": ADMIN,
    "GET /v3/role_assignments": ADMIN,
    "GET /v3/services": TOKEN,
    "POST /v3/services": ADMIN,  # kumo's own are read-only; others stored
    "GET /v3/services/{id}": TOKEN,
    "PATCH /v3/services/{id}": ADMIN,
    "DELETE /v3/services/{id}": ADMIN,
    "GET /v3/endpoints": TOKEN,
    "POST /v3/endpoints": ADMIN,
    "GET /v3/endpoints/{id}": TOKEN,
    "PATCH /v3/endpoints/{id}": ADMIN,
    "DELETE /v3/endpoints/{id}": ADMIN,
    "GET /v3/regions": TOKEN,
    "POST /v3/regions": ADMIN,
    "GET /v3/regions/{id}": TOKEN,
    "PUT /v3/regions/{id}": ADMIN,
    "PATCH /v3/regions/{id}": ADMIN,
    "DELETE /v3/regions/{id}": ADMIN,
    "GET /v3/projects/{id}/tags": ADMIN,
    "PUT /v3/projects/{id}/tags": ADMIN,
    "DELETE /v3/projects/{id}/tags": ADMIN,
    "GET /v3/projects/{id}/tags/{tag}": ADMIN_OK,  # 404 when the project lacks it
    "PUT /v3/projects/{id}/tags/{tag}": ADMIN,
    "DELETE /v3/projects/{id}/tags/{tag}": ADMIN_OK,
    "GET /v3/users/{id}/credentials/OS-EC2": SELF,
    "POST /v3/users/{id}/credentials/OS-EC2": SELF,
    "GET /v3/users/{id}/credentials/OS-EC2/{access}": ("401", "403", "403", "ok", "ok"),
    "DELETE /v3/users/{id}/credentials/OS-EC2/{access}": ("401", "403", "403", "ok", "ok"),
    "GET /v3/users/{id}/access_rules": OWN_CREDS,
    "GET /v3/users/{id}/access_rules/{rule}": OWN_CREDS,
    "DELETE /v3/users/{id}/access_rules/{rule}": OWN_CREDS,
    "GET /v3/credentials": TOKEN,  # one's own (admins: all)
    "POST /v3/credentials": SELF,
    "GET /v3/credentials/{id}": OWN_CREDS,
    "PATCH /v3/credentials/{id}": OWN_CREDS,
    "DELETE /v3/credentials/{id}": OWN_CREDS,
    "PATCH /v3/groups/{id}": ADMIN,
    "GET /v3/groups/{id}/users": ADMIN,
    "PUT /v3/groups/{id}/users/{user}": ADMIN,
    "GET /v3/groups/{id}/users/{user}": ADMIN_OK,  # 404 when not a member
    "DELETE /v3/groups/{id}/users/{user}": ADMIN_OK,
    "GET /v3/roles/{prior}/implies": TOKEN,
    "GET /v3/roles/{prior}/implies/{implied}": TOKEN,
    "PUT /v3/roles/{prior}/implies/{implied}": ADMIN,
    "DELETE /v3/roles/{prior}/implies/{implied}": ADMIN_OK,  # built-in rules stay (403)
    "GET /v3/domains/config/default": ADMIN,
    "GET /v3/domains/config/{group}/default": ADMIN,
    "GET /v3/domains/config/{group}/{option}/default": ADMIN,
    "PUT /v3/domains/{id}/config": ADMIN,
    **{f"{m} /v3/domains/{{id}}/config{sub}": ADMIN_OK  # 404: the domain has no config
       for m in ("GET", "PATCH", "DELETE") for sub in ("", "/{group}", "/{group}/{option}")},
    "PUT /v3/domains/{id}/config/{group}": ("401", "403", "403", "403", "405"),  # PATCH it
    "PUT /v3/domains/{id}/config/{group}/{option}": ("401", "403", "403", "403", "405"),
    "GET /v3/OS-EP-FILTER/endpoint_groups": ADMIN,
    "POST /v3/OS-EP-FILTER/endpoint_groups": ADMIN,
    "GET /v3/OS-EP-FILTER/endpoint_groups/{id}": ADMIN,
    "PATCH /v3/OS-EP-FILTER/endpoint_groups/{id}": ADMIN,
    "DELETE /v3/OS-EP-FILTER/endpoint_groups/{id}": ADMIN,
    "GET /v3/OS-EP-FILTER/endpoint_groups/{id}/endpoints": ADMIN,
    "GET /v3/OS-EP-FILTER/endpoint_groups/{id}/projects": ADMIN,
    "PUT /v3/OS-EP-FILTER/endpoint_groups/{id}/projects/{project}": ADMIN,
    "GET /v3/OS-EP-FILTER/endpoint_groups/{id}/projects/{project}": ADMIN_OK,  # 404: none
    "DELETE /v3/OS-EP-FILTER/endpoint_groups/{id}/projects/{project}": ADMIN_OK,
    "GET /v3/OS-EP-FILTER/projects/{project}/endpoint_groups": ADMIN,
    "GET /v3/policies": ADMIN,
    "POST /v3/policies": ADMIN,
    "GET /v3/policies/{id}": ADMIN,
    "PATCH /v3/policies/{id}": ADMIN,
    "DELETE /v3/policies/{id}": ADMIN,
    "GET /v3/OS-TRUST/trusts": ADMIN,  # others list with trustor/trustee_user_id = self
    "GET /v3/OS-TRUST/trusts/": ADMIN,
    "POST /v3/OS-TRUST/trusts": TOKEN,  # each caller its own roles
    "POST /v3/OS-TRUST/trusts/": TOKEN,
    "GET /v3/OS-TRUST/trusts/{id}": READ,  # trustor (owner), trustee (reader), admins
    "DELETE /v3/OS-TRUST/trusts/{id}": WRITE,  # the trustee may not
    "GET /v3/OS-TRUST/trusts/{id}/roles": READ,
    "GET /v3/OS-TRUST/trusts/{id}/roles/{role}": READ,
    "GET /v3/system/{actors:str}/{actor}/roles": ADMIN,
    "PUT /v3/system/{actors:str}/{actor}/roles/{role}": ADMIN,
    "GET /v3/system/{actors:str}/{actor}/roles/{role}": ADMIN_OK,
    "DELETE /v3/system/{actors:str}/{actor}/roles/{role}": ADMIN_OK,
    "GET /v3/OS-INHERIT/{scopes:str}/{scope}/{actors:str}/{actor}/roles/inherited_to_projects":
        ADMIN,
    "PUT /v3/OS-INHERIT/{scopes:str}/{scope}/{actors:str}/{actor}/roles/{role}/"
    "inherited_to_projects": ADMIN,
    "GET /v3/OS-INHERIT/{scopes:str}/{scope}/{actors:str}/{actor}/roles/{role}/"
    "inherited_to_projects": ADMIN_OK,
    "DELETE /v3/OS-INHERIT/{scopes:str}/{scope}/{actors:str}/{actor}/roles/{role}/"
    "inherited_to_projects": ADMIN_OK,
    "GET /image/": ("3xx",) * 5,
    "GET /image/versions": PUBLIC,
    "GET /image/v2": PUBLIC,
    "GET /image/v2/": PUBLIC,
    "GET /image/v2/schemas/{name}": TOKEN,
    "GET /image/v2/info/import": TOKEN,
    "GET /image/v2/info/stores": TOKEN,
    "GET /image/v2/images": TOKEN,
    "POST /image/v2/images": CREATE,
    "GET /image/v2/images/{image_id}": TOKEN,
    "PATCH /image/v2/images/{image_id}": IMAGE_OWNER,
    "DELETE /image/v2/images/{image_id}": IMAGE_OWNER,
    "PUT /image/v2/images/{image_id}/file": IMAGE_OWNER,
    "GET /image/v2/images/{image_id}/file": TOKEN,
    "PUT /image/v2/images/{image_id}/tags/{tag}": IMAGE_OWNER,
    "DELETE /image/v2/images/{image_id}/tags/{tag}": IMAGE_OWNER,
    "GET /image/v2/images/{image_id}/members": TOKEN,
    "POST /image/v2/images/{image_id}/members": IMAGE_OWNER,
    "GET /image/v2/images/{image_id}/members/{member_id}": TOKEN,
    "PUT /image/v2/images/{image_id}/members/{member_id}": ("401", "2xx", "403", "403", "2xx"),
    "DELETE /image/v2/images/{image_id}/members/{member_id}": IMAGE_OWNER,
    "POST /image/v2/images/{image_id}/actions/{action}": IMAGE_OWNER,  # Glance: member or admin
    "PUT /image/v2/images/{image_id}/stage": IMAGE_OWNER,
    "GET /image/v2/tasks": ADMIN,
    "POST /image/v2/tasks": ("401", "403", "403", "403", "400"),  # no outside network
    "GET /image/v2/tasks/{task_id}": ("401", "403", "403", "403", "404"),  # none are kept
    "POST /image/v2/images/{image_id}/import": ("401", "403", "403", "ok", "ok"),  # 409: unstaged
    "GET /image/v2/images/": ("401", "404", "404", "404", "404"),  # empty id: Glance's 404
    "PATCH /image/v2/images/": ("401", "404", "404", "404", "404"),
    "DELETE /image/v2/images/": ("401", "404", "404", "404", "404"),
    "GET /image/v2/schemas/metadefs/{name}": TOKEN,
    # metadata definitions: admins write (Glance's default policy); the seeded namespace
    # is public, so every token reads it
    "GET /image/v2/metadefs/resource_types": TOKEN,
    "GET /image/v2/metadefs/namespaces": TOKEN,
    "POST /image/v2/metadefs/namespaces": ADMIN,
    **{f"{m} /image/v2/metadefs/namespaces/{{ns}}{sub}": TOKEN if m == "GET" else ADMIN
       for m, sub in (("GET", ""), ("PUT", ""), ("DELETE", ""),
                      ("GET", "/resource_types"), ("POST", "/resource_types"),
                      ("DELETE", "/resource_types/{name}"),
                      *((m2, f"/{p}{one}") for p in ("objects", "properties", "tags")
                        for m2, one in (("GET", ""), ("POST", ""), ("DELETE", ""),
                                        ("GET", "/{name}"), ("PUT", "/{name}"),
                                        ("DELETE", "/{name}"))),
                      ("POST", "/tags/{name}"))},
    "GET /compute/": PUBLIC,
    "GET /compute/v2.1": PUBLIC,
    "GET /compute/v2.1/": PUBLIC,
    "GET /compute/v2.1/servers": TOKEN,
    "POST /compute/v2.1/servers": CREATE,
    "GET /compute/v2.1/servers/detail": TOKEN,
    "GET /compute/v2.1/servers/{server_id}": READ,
    "PUT /compute/v2.1/servers/{server_id}": WRITE,
    "DELETE /compute/v2.1/servers/{server_id}": WRITE,
    "POST /compute/v2.1/servers/{server_id}/action": WRITE,
    "GET /compute/v2.1/servers/{server_id}/metadata": READ,
    "POST /compute/v2.1/servers/{server_id}/metadata": WRITE,
    "PUT /compute/v2.1/servers/{server_id}/metadata": WRITE,
    "GET /compute/v2.1/servers/{server_id}/metadata/{key}": READ,
    "PUT /compute/v2.1/servers/{server_id}/metadata/{key}": WRITE,
    "DELETE /compute/v2.1/servers/{server_id}/metadata/{key}": WRITE,
    "GET /compute/v2.1/servers/{server_id}/tags": READ,
    "PUT /compute/v2.1/servers/{server_id}/tags": WRITE,
    "DELETE /compute/v2.1/servers/{server_id}/tags": WRITE,
    "GET /compute/v2.1/servers/{server_id}/tags/{tag}": READ,
    "PUT /compute/v2.1/servers/{server_id}/tags/{tag}": WRITE,
    "DELETE /compute/v2.1/servers/{server_id}/tags/{tag}": WRITE,
    "GET /compute/v2.1/servers/{server_id}/os-interface": READ,
    "POST /compute/v2.1/servers/{server_id}/os-interface": WRITE,
    "GET /compute/v2.1/servers/{server_id}/os-interface/{port_id}": READ,
    "DELETE /compute/v2.1/servers/{server_id}/os-interface/{port_id}": WRITE,
    "GET /compute/v2.1/servers/{server_id}/os-instance-actions": READ,
    "GET /compute/v2.1/servers/{server_id}/os-security-groups": READ,
    "GET /compute/v2.1/servers/{server_id}/os-instance-actions/{request_id}": READ,
    "GET /compute/v2.1/flavors": TOKEN,
    "POST /compute/v2.1/flavors": ADMIN,
    "GET /compute/v2.1/flavors/detail": TOKEN,
    "GET /compute/v2.1/flavors/{flavor_id}": TOKEN,
    "PUT /compute/v2.1/flavors/{flavor_id}": ADMIN,
    "DELETE /compute/v2.1/flavors/{flavor_id}": ADMIN,
    "POST /compute/v2.1/flavors/{flavor_id}/action": ADMIN_OK,  # 409: a public flavor
    "GET /compute/v2.1/flavors/{flavor_id}/os-flavor-access": ADMIN_OK,  # 404: public
    "GET /compute/v2.1/flavors/{flavor_id}/os-extra_specs": TOKEN,
    "POST /compute/v2.1/flavors/{flavor_id}/os-extra_specs": ADMIN,
    "GET /compute/v2.1/flavors/{flavor_id}/os-extra_specs/{key}": TOKEN,
    "PUT /compute/v2.1/flavors/{flavor_id}/os-extra_specs/{key}": ADMIN,
    "DELETE /compute/v2.1/flavors/{flavor_id}/os-extra_specs/{key}": ADMIN,
    "GET /compute/v2.1/os-keypairs": TOKEN,
    "POST /compute/v2.1/os-keypairs": TOKEN,
    "GET /compute/v2.1/os-keypairs/{name}": USER_KEYPAIR,
    "DELETE /compute/v2.1/os-keypairs/{name}": USER_KEYPAIR,
    "GET /compute/v2.1/os-server-groups": TOKEN,
    # Nova's deprecated proxies: gone from microversion 2.36 on (the matrix asks for 2.100)
    "GET /compute/v2.1/os-security-groups": ("401", "404", "404", "404", "404"),
    "GET /compute/v2.1/os-security-groups/{group_id}": ("401", "404", "404", "404", "404"),
    "POST /compute/v2.1/os-server-groups": CREATE,
    "GET /compute/v2.1/os-server-groups/{group_id}": READ,
    "DELETE /compute/v2.1/os-server-groups/{group_id}": WRITE,
    "GET /compute/v2.1/limits": TOKEN,
    "GET /compute/v2.1/os-quota-sets/{project_id}": PROJECT,
    "PUT /compute/v2.1/os-quota-sets/{project_id}": ADMIN,
    "DELETE /compute/v2.1/os-quota-sets/{project_id}": ADMIN,
    "GET /compute/v2.1/os-quota-sets/{project_id}/detail": PROJECT,
    "GET /compute/v2.1/os-quota-sets/{project_id}/defaults": PROJECT,
    "GET /compute/v2.1/os-hypervisors": ADMIN,
    "GET /compute/v2.1/os-hypervisors/detail": ADMIN,
    "GET /compute/v2.1/os-hypervisors/statistics": ADMIN,  # called at 2.87 (gone in 2.88)
    "GET /compute/v2.1/os-hypervisors/{hypervisor_id}": ADMIN,
    "GET /compute/v2.1/os-services": ADMIN,
    "PUT /compute/v2.1/os-services/{service_id}": ADMIN,
    "DELETE /compute/v2.1/os-services/{service_id}": ADMIN,
    "GET /compute/v2.1/os-availability-zone": TOKEN,
    "GET /compute/v2.1/os-availability-zone/detail": ADMIN,
    "GET /compute/v2.1/os-aggregates": ADMIN,
    "GET /compute/v2.1/os-aggregates/{aggregate_id}": ADMIN,
    "GET /metadata/openstack": ADMIN_OK,
    "GET /metadata/openstack/": ADMIN_OK,
    "GET /metadata/openstack/{version}": ADMIN_OK,
    "GET /metadata/openstack/{version}/": ADMIN_OK,
    "GET /metadata/openstack/{version}/{leaf}": ADMIN_OK,
    "GET /metadata/": ADMIN_OK,
    "GET /metadata/{version}": ADMIN_OK,
    "GET /metadata/{version}/{rest:path}": ADMIN_OK,
    "GET /network/": PUBLIC,
    "GET /network/v2.0": PUBLIC,
    "GET /network/v2.0/": PUBLIC,
    "GET /network/v2.0/extensions": TOKEN,
    "GET /network/v2.0/extensions/{alias}": TOKEN,
    "GET /network/v2.0/networks": TOKEN,
    "POST /network/v2.0/networks": CREATE,
    "GET /network/v2.0/networks/{network_id}": READ,
    "PUT /network/v2.0/networks/{network_id}": WRITE,
    "DELETE /network/v2.0/networks/{network_id}": WRITE,
    "GET /network/v2.0/subnets": TOKEN,
    "POST /network/v2.0/subnets": WRITE,
    "GET /network/v2.0/subnets/{subnet_id}": READ,
    "PUT /network/v2.0/subnets/{subnet_id}": WRITE,
    "DELETE /network/v2.0/subnets/{subnet_id}": WRITE,
    "GET /network/v2.0/ports": TOKEN,
    "POST /network/v2.0/ports": WRITE,
    "GET /network/v2.0/ports/{port_id}": READ,
    "PUT /network/v2.0/ports/{port_id}": WRITE,
    "DELETE /network/v2.0/ports/{port_id}": WRITE,
    "GET /network/v2.0/security-groups": TOKEN,
    "POST /network/v2.0/security-groups": CREATE,
    "GET /network/v2.0/security-groups/{group_id}": READ,
    "PUT /network/v2.0/security-groups/{group_id}": WRITE,
    "DELETE /network/v2.0/security-groups/{group_id}": WRITE,
    "GET /network/v2.0/security-group-rules": TOKEN,
    "POST /network/v2.0/security-group-rules": WRITE,
    "GET /network/v2.0/security-group-rules/{rule_id}": READ,
    "DELETE /network/v2.0/security-group-rules/{rule_id}": WRITE,
    "GET /compute/v2.1/os-floating-ips": ("401", "404", "404", "404", "404"),  # gone at 2.36
    "GET /compute/v2.1/images": ("401", "404", "404", "404", "404"),  # proxy gone at 2.36
    "GET /compute/v2.1/images/detail": ("401", "404", "404", "404", "404"),
    "GET /compute/v2.1/images/{image_id}": ("401", "404", "404", "404", "404"),
    "DELETE /compute/v2.1/images/{image_id}": ("401", "404", "404", "404", "404"),
    "GET /compute/v2.1/os-floating-ips/{floating_ip_id}": ("401", "404", "404", "404", "404"),
    "GET /network/v2.0/routers": TOKEN,
    "POST /network/v2.0/routers": CREATE,
    "GET /network/v2.0/routers/{router_id}": READ,
    "PUT /network/v2.0/routers/{router_id}": WRITE,
    "DELETE /network/v2.0/routers/{router_id}": WRITE,
    "PUT /network/v2.0/routers/{router_id}/add_router_interface": WRITE,
    "PUT /network/v2.0/routers/{router_id}/remove_router_interface": WRITE,
    "GET /network/v2.0/floatingips": TOKEN,
    "POST /network/v2.0/floatingips": CREATE,
    "GET /network/v2.0/floatingips/{floatingip_id}": READ,
    "PUT /network/v2.0/floatingips/{floatingip_id}": WRITE,
    "DELETE /network/v2.0/floatingips/{floatingip_id}": WRITE,
    "GET /network/v2.0/subnetpools": TOKEN,
    "POST /network/v2.0/subnetpools": CREATE,
    "GET /network/v2.0/subnetpools/{subnetpool_id}": READ,
    "PUT /network/v2.0/subnetpools/{subnetpool_id}": WRITE,
    "DELETE /network/v2.0/subnetpools/{subnetpool_id}": WRITE,
    "GET /network/v2.0/address-scopes": TOKEN,
    "POST /network/v2.0/address-scopes": CREATE,
    "GET /network/v2.0/address-scopes/{address_scope_id}": READ,
    "PUT /network/v2.0/address-scopes/{address_scope_id}": WRITE,
    "DELETE /network/v2.0/address-scopes/{address_scope_id}": WRITE,
    "GET /network/v2.0/rbac-policies": TOKEN,
    "POST /network/v2.0/rbac-policies": WRITE,
    "GET /network/v2.0/rbac-policies/{rbac_id}": READ,
    "PUT /network/v2.0/rbac-policies/{rbac_id}": WRITE,
    "DELETE /network/v2.0/rbac-policies/{rbac_id}": WRITE,
    "GET /network/v2.0/network-ip-availabilities": ADMIN,
    "GET /network/v2.0/network-ip-availabilities/{network_id}": ADMIN,
    "GET /network/v2.0/agents": TOKEN,
    "GET /network/v2.0/service-providers": TOKEN,
    "GET /network/v2.0/agents/{agent_id}": ("401", "404", "404", "404", "2xx"),
    "GET /network/v2.0/quotas": ADMIN,
    "GET /network/v2.0/quotas/{project_id}": PROJECT,
    "PUT /network/v2.0/quotas/{project_id}": ADMIN,
    "DELETE /network/v2.0/quotas/{project_id}": ADMIN,
    "GET /network/v2.0/quotas/{project_id}/details": PROJECT,
    "GET /network/v2.0/quotas/{project_id}/default": PROJECT,
    "GET /network/v2.0/{collection}/{resource_id}/tags": READ,
    "PUT /network/v2.0/{collection}/{resource_id}/tags": WRITE,
    "DELETE /network/v2.0/{collection}/{resource_id}/tags": WRITE,
    "GET /network/v2.0/{collection}/{resource_id}/tags/{tag}": READ,
    "PUT /network/v2.0/{collection}/{resource_id}/tags/{tag}": WRITE,
    "DELETE /network/v2.0/{collection}/{resource_id}/tags/{tag}": WRITE,
    **DNS_RULES}

# kind plural -> who writes it natively: "admin" (admin-only kinds), "tenant" (members
# write their project's), "readonly" (members read their project's; every write goes
# through the kind's OpenStack API, which applies the cloud's rules), "keystone" (admins
# read; only the Identity API writes, for admins too)
def _octavia() -> dict[str, Outcome]:
    """Octavia v2, the same under /v2 and /v2.0 (python-octaviaclient uses the latter)."""
    out: dict[str, Outcome] = {"GET /load-balancer/": PUBLIC}
    one = {"lbaas/loadbalancers": "{lb_id}", "lbaas/listeners": "{listener_id}",
           "lbaas/pools": "{pool_id}", "lbaas/healthmonitors": "{hm_id}",
           "lbaas/pools/{pool_id}/members": "{member_id}", "lbaas/l7policies": "{l7policy_id}",
           "lbaas/l7policies/{l7policy_id}/rules": "{l7rule_id}"}
    for v in ("v2", "v2.0"):
        p = f"/load-balancer/{v}/"
        for coll, ident in one.items():
            members = coll.endswith(("/members", "/rules"))
            out[f"GET {p}{coll}"] = READ if members else TOKEN
            out[f"POST {p}{coll}"] = CREATE if coll.endswith("loadbalancers") else WRITE
            out[f"GET {p}{coll}/{ident}"] = READ
            out[f"PUT {p}{coll}/{ident}"] = WRITE
            out[f"DELETE {p}{coll}/{ident}"] = WRITE
        out[f"PUT {p}lbaas/pools/{{pool_id}}/members"] = WRITE
        # the seeded LB has children: without ?cascade Octavia answers 400
        out[f"DELETE {p}lbaas/loadbalancers/{{lb_id}}"] = ("401", "404", "403", "ok", "ok")
        for sub in ("loadbalancers/{lb_id}/stats", "loadbalancers/{lb_id}/status",
                    "listeners/{listener_id}/stats"):
            out[f"GET {p}lbaas/{sub}"] = READ
        for coll in ("providers", "flavors", "quotas/defaults"):
            out[f"GET {p}lbaas/{coll}"] = TOKEN
        out[f"GET {p}lbaas/quotas/{{project_id}}"] = PROJECT
        out[f"PUT {p}lbaas/quotas/{{project_id}}"] = ADMIN
    return out


RULES.update(_octavia())

NATIVE_KINDS: dict[str, str] = {
    "configmaps": "tenant",
    **{p: "readonly" for p in (
        "consolelogs", "dnsrecordsets", "dnszones", "dnszonetasks", "events", "floatingips",
        "instanceactions", "networks", "ports", "quotasets", "routers", "loadbalancers",
        "securitygrouprules", "securitygroups", "servergroups", "servers", "subnetpools", "addressscopes", "rbacpolicies",
        "subnets")},
    **{p: "admin" for p in (
        "quotausages", "quotaclaims", "flavors", "hostallocations", "hosts", "images",
        "metadefnamespaces",
        "ipallocations", "keypairs", "leases", "macallocations", "segmentallocations",
        "agentreports", "dnsblacklists", "dnstlds", "dnstsigkeys")},
    **{p: "keystone" for p in (
        "applicationcredentials", "credentials", "domains", "endpoints", "groupmemberships",
        "groups", "impliedroles", "loginfailures", "nameclaims", "policyblobs", "projects",
        "regions", "trusts", "endpointgroups", "accessrules",
        "roleassignments", "roles", "services", "tokenrevocations", "users")},
}
_NATIVE: dict[str, dict[str, Outcome]] = {
    "admin": {"read": ADMIN, "write": ADMIN, "status-delete": ("401", "403", "403", "403",
                                                                "405")},
    "tenant": {"read": READ, "write": WRITE, "status-delete": ("401", "404", "403", "405",
                                                                "405")},
    "keystone": {"read": ADMIN, "write": ("401", "403", "403", "403", "403"),
                 "status-delete": ("401", "403", "403", "403", "403")},
    "readonly": {"read": READ, "write": ("401", "404", "403", "403", "2xx"),
                 "status-delete": ("401", "404", "403", "403", "405")},
}
NATIVE = "/apis/kumo.io/v1/"


def rule_for(method: str, template: str) -> Outcome | None:
    """The route's rule, or None: a new route (or kind) nobody has judged yet."""
    if not template.startswith(NATIVE):
        return RULES.get(f"{method} {template}")
    rest = template[len(NATIVE):].split("/")
    plural = rest[2] if rest[0] == "namespaces" else rest[0]
    who = NATIVE_KINDS.get(plural)
    if who is None:
        return None
    if method == "GET":
        return _NATIVE[who]["read"]
    if method == "DELETE" and template.endswith("/status"):
        return _NATIVE[who]["status-delete"]
    return _NATIVE[who]["write"]
