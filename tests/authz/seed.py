"""The objects the authorization matrix needs: two projects, five callers, one object
of each kind the routes name (shared for reads), and fresh ones for every write (a
delete by one caller must not turn the next caller's answer into a 404)."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from typing import Any

from kumo.model import identity as m
from tests.compute.conftest import Tenant
from tests.quotas.conftest import Cloud

CALLERS = ("anon", "other_member", "reader", "owner", "other_admin")
_n = itertools.count(1)
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAiKkgOfzlV4HBvloG1ACmhm0h9LYihUWNE5ixAJ66IA authz"


@dataclass
class Seed:
    cloud: Cloud
    who: dict[str, Tenant | None] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)
    router_subnet: str = ""
    lb: dict[str, str] = field(default_factory=dict)  # the read-only load-balancer tree

    @property
    def owner(self) -> Tenant:
        t = self.who["owner"]
        assert t is not None
        return t

    @property
    def admin(self) -> Tenant:
        t = self.who["other_admin"]
        assert t is not None
        return t

    # ---- API helpers ---------------------------------------------------------------
    async def nova(self, method: str, path: str, who: Tenant, status: int, **kw: Any) -> Any:
        return await self.cloud.ok(method, path, who, status, **kw)

    async def neutron(self, method: str, path: str, who: Tenant, status: int = 201,
                      **kw: Any) -> Any:
        return await self.cloud.net_ok(method, path, who, status, **kw)

    async def keystone(self, method: str, path: str, who: Tenant, status: int = 201,
                       **kw: Any) -> Any:
        r = await self.cloud.client.request(method, "/v3" + path, json=kw.get("json"),
                                            headers={"X-Auth-Token": who.token})
        assert r.status_code == status, r.text
        return r.json() if r.content else None

    async def glance(self, method: str, path: str, who: Tenant, status: int = 201,
                     **kw: Any) -> Any:
        r = await self.cloud.client.request(method, "/image" + path, json=kw.get("json"),
                                            headers={"X-Auth-Token": who.token})
        assert r.status_code == status, r.text
        return r.json() if r.content else None

    async def designate(self, method: str, path: str, who: Tenant, status: int = 202,
                        **kw: Any) -> Any:
        r = await self.cloud.client.request(method, "/dns" + path, json=kw.get("json"),
                                            headers={"X-Auth-Token": who.token})
        assert r.status_code == status, r.text
        return r.json() if r.content else None

    # ---- fresh objects (owner's unless said) ------------------------------------------
    async def zone(self) -> str:
        return (await self.designate("POST", "/v2/zones", self.owner, json={
            "name": f"z{next(_n)}.authz.example.", "email": "a@authz.example"}))["id"]

    def dns_admin_body(self, kind: str) -> dict[str, Any]:
        n = next(_n)
        return {"tsigkeys": {"name": f"key{n}", "algorithm": "hmac-sha256",
                             "secret": "c2VjcmV0LWtleS1mb3ItYXV0aHo=", "scope": "POOL",
                             "resource_id": "794ccc2c-d751-44fe-b57f-8894c9f5c842"},
                "tlds": {"name": f"tld{n}"},
                "blacklists": {"pattern": f"^blocked-{n}\\.example\\.$"}}[kind]

    async def dns_admin(self, kind: str) -> str:
        return str((await self.designate("POST", f"/v2/{kind}", self.admin, 201,
                                         json=self.dns_admin_body(kind)))["id"])

    async def share(self, zone_id: str) -> str:
        """A share with a third project (so the matrix's callers keep their view)."""
        third = await self.cloud.project(f"third{next(_n)}")
        return str((await self.designate("POST", f"/v2/zones/{zone_id}/shares", self.owner,
                                         201, json={"target_project_id": third}))["id"])

    def zone_file(self) -> str:
        n = next(_n)
        return (f"$ORIGIN i{n}.authz.example.\n@ 300 IN SOA ns.x. h.authz.example. 1 2 3 4 5\n"
                f"www 300 IN A 10.0.0.1\n")

    async def import_task(self) -> str:
        r = await self.cloud.client.post("/dns/v2/zones/tasks/imports",
                                         content=self.zone_file().encode(),
                                         headers={"X-Auth-Token": self.owner.token,
                                                  "Content-Type": "text/dns"})
        assert r.status_code == 202 and r.json()["status"] == "COMPLETE", r.text
        return str(r.json()["id"])

    async def export_task(self) -> str:
        return str((await self.designate("POST", f"/v2/zones/{self.ids['zone']}/tasks/export",
                                         self.owner))["id"])

    async def xfer_request(self, target: str | None = None) -> dict[str, Any]:
        other = self.who["other_member"]
        assert other is not None
        return await self.designate("POST", f"/v2/zones/{await self.zone()}/tasks/"
                                    "transfer_requests", self.owner, 201,
                                    json={"target_project_id": target or other.project_id})

    async def task_id(self, template: str, write: bool) -> str:
        if "/imports/" in template:
            return await self.import_task() if write else self.ids["import"]
        if "/exports/" in template:
            return await self.export_task() if write else self.ids["export"]
        if "/transfer_requests/" in template:
            return str((await self.xfer_request())["id"]) if write else self.ids["xfer_req"]
        return self.ids["xfer_acc"]

    async def recordset(self) -> str:
        return (await self.designate("POST", f"/v2/zones/{self.ids['zone']}/recordsets",
                                     self.owner, json={"name": f"r{next(_n)}.{self.ids['zname']}",
                                                       "type": "A", "records": ["10.0.0.1"]}))["id"]

    async def network(self) -> str:
        return (await self.neutron("POST", "/v2.0/networks", self.owner,
                                   json={"network": {"name": f"n{next(_n)}", "tags": ["t"]}}))["network"]["id"]

    async def subnet(self, net: str | None = None) -> str:
        net = net or await self.network()
        body = {"network_id": net, "cidr": f"10.{next(_n) % 250}.0.0/24", "ip_version": 4}
        return (await self.neutron("POST", "/v2.0/subnets", self.owner,
                                   json={"subnet": body}))["subnet"]["id"]

    async def port(self) -> str:
        return (await self.neutron("POST", "/v2.0/ports", self.owner, json={
            "port": {"network_id": self.ids["network"]}}))["port"]["id"]

    async def external(self) -> str:
        pid = await self.cloud.project("external-project")  # neither caller's project
        net = (await self.neutron("POST", "/v2.0/networks", self.admin, json={"network": {
            "name": "public", "router:external": True, "project_id": pid}}))["network"]["id"]
        await self.neutron("POST", "/v2.0/subnets", self.admin, json={"subnet": {
            "network_id": net, "cidr": "198.18.192.0/20", "ip_version": 4,
            "project_id": pid}})
        return net

    async def router(self, *, interface: bool = True) -> str:
        """A fresh router with a gateway and one interface (on ``router_subnet``)."""
        rid = (await self.neutron("POST", "/v2.0/routers", self.owner, json={"router": {
            "name": f"r{next(_n)}", "external_gateway_info": {
                "network_id": self.ids["external"]}}}))["router"]["id"]
        if not interface:
            return rid
        self.router_subnet = await self.subnet()
        await self.neutron("PUT", f"/v2.0/routers/{rid}/add_router_interface", self.owner,
                           200, json={"subnet_id": self.router_subnet})
        return rid

    async def floatingip(self) -> str:
        return (await self.neutron("POST", "/v2.0/floatingips", self.owner, json={
            "floatingip": {"floating_network_id": self.ids["external"]}}))["floatingip"]["id"]

    async def subnetpool(self) -> str:
        return (await self.neutron("POST", "/v2.0/subnetpools", self.owner, json={
            "subnetpool": {"name": f"sp{next(_n)}", "prefixes": ["10.250.0.0/16"]}})
                )["subnetpool"]["id"]

    async def address_scope(self) -> str:
        return (await self.neutron("POST", "/v2.0/address-scopes", self.owner, json={
            "address_scope": {"name": f"as{next(_n)}", "ip_version": 4}})
                )["address_scope"]["id"]

    async def rbac(self) -> str:
        """The seeded network shared with a project no caller is in."""
        return (await self.neutron("POST", "/v2.0/rbac-policies", self.owner, json={
            "rbac_policy": {"object_type": "network", "object_id": self.ids["network"],
                            "action": "access_as_shared",
                            "target_tenant": uuid.uuid4().hex}}))["rbac_policy"]["id"]

    async def secgroup(self) -> str:
        return (await self.neutron("POST", "/v2.0/security-groups", self.owner, json={
            "security_group": {"name": f"g{next(_n)}"}}))["security_group"]["id"]

    async def rule(self) -> str:
        p = 1000 + next(_n)
        return (await self.neutron("POST", "/v2.0/security-group-rules", self.owner, json={
            "security_group_rule": {"security_group_id": self.ids["secgroup"],
                                    "direction": "ingress", "protocol": "tcp",
                                    "port_range_min": p, "port_range_max": p}})
                )["security_group_rule"]["id"]

    async def server(self, *, active: bool = True) -> str:
        r = await self.cloud.call("POST", "/v2.1/servers", self.owner, json={"server": {
            "name": f"vm{next(_n)}", "imageRef": self.ids["public_image"], "flavorRef": "42",
            "networks": "none", "metadata": {"k": "v"}, "tags": ["t"]}},
            headers={"X-Openstack-Request-Id": f"req-{uuid.uuid4()}"})
        assert r.status_code == 202, r.text
        sid = r.json()["server"]["id"]
        if active:
            await self.cloud.play_agent(self.owner.project_id, sid)
        return sid

    async def attached(self, sid: str) -> str:
        port = await self.port()
        await self.nova("POST", f"/v2.1/servers/{sid}/os-interface", self.owner, 200,
                        json={"interfaceAttachment": {"port_id": port}})
        return port

    async def keypair(self) -> str:
        name = f"kp{next(_n)}"
        await self.nova("POST", "/v2.1/os-keypairs", self.owner, 201,
                        json={"keypair": {"name": name, "public_key": PUBLIC_KEY}})
        return name

    async def server_group(self) -> str:
        return (await self.nova("POST", "/v2.1/os-server-groups", self.owner, 200, json={
            "server_group": {"name": f"sg{next(_n)}", "policy": "affinity"}}))[
            "server_group"]["id"]

    async def metadef(self) -> str:
        """A fresh public metadefs namespace with object o, property p, tag t and the
        OS::Glance::Image resource type."""
        ns = f"ns{next(_n)}"
        await self.glance("POST", "/v2/metadefs/namespaces", self.admin, json={
            "namespace": ns, "visibility": "public",
            "resource_type_associations": [{"name": "OS::Glance::Image"}]})
        base = f"/v2/metadefs/namespaces/{ns}"
        await self.glance("POST", base + "/objects", self.admin, json={"name": "o"})
        await self.glance("POST", base + "/properties", self.admin, json={
            "name": "p", "title": "P", "type": "string"})
        await self.glance("POST", base + "/tags/t", self.admin)
        return ns

    async def image(self, *, active: bool = False) -> str:
        img = await self.glance("POST", "/v2/images", self.owner, json={
            "name": f"i{next(_n)}", "disk_format": "qcow2", "container_format": "bare",
            "tags": ["t"]})
        if active:
            r = await self.cloud.client.put(
                f"/image/v2/images/{img['id']}/file", content=b"x" * 512,
                headers={"X-Auth-Token": self.owner.token,
                         "Content-Type": "application/octet-stream"})
            assert r.status_code == 204, r.text
        other = self.who["other_member"]
        assert other is not None
        await self.glance("POST", f"/v2/images/{img['id']}/members", self.owner, 200,
                          json={"member": other.project_id})
        return str(img["id"])

    async def flavor(self) -> str:
        f = await self.nova("POST", "/v2.1/flavors", self.admin, 200, json={"flavor": {
            "name": f"f{next(_n)}", "ram": 64, "vcpus": 1, "disk": 1}})
        fid = str(f["flavor"]["id"])
        await self.nova("POST", f"/v2.1/flavors/{fid}/os-extra_specs", self.admin, 200,
                        json={"extra_specs": {"k": "v"}})
        return fid

    async def host(self, az: str = "nova") -> str:
        name = f"node{next(_n)}"
        host = await self.cloud.host(name, az=az)
        return str(host["metadata"]["uid"])

    async def app_cred(self) -> str:
        uid = self.owner.user_id
        return (await self.keystone("POST", f"/users/{uid}/application_credentials",
                                    self.owner, json={"application_credential": {
                                        "name": f"c{next(_n)}"}}))["application_credential"][
            "id"]

    async def catalog_obj(self, collection: str) -> str:
        """A fresh stored service, endpoint, region or credential (of the owner)."""
        n = next(_n)
        body: dict[str, Any] = {
            "services": {"service": {"type": f"t{n}"}},
            "endpoints": {"endpoint": {"service_id": self.ids["services"],
                                       "interface": "public", "url": f"http://x/{n}"}},
            "regions": {"region": {"description": "r"}},
            "credentials": {"credential": {"user_id": self.owner.user_id, "type": "cert",
                                           "blob": f"b{n}"}},
            "policies": {"policy": {"type": "t", "blob": f"b{n}"}},
            "endpoint_groups": {"endpoint_group": {"name": f"g{n}",
                                                   "filters": {"interface": "public"}}},
        }[collection]
        key = {"policies": "policy"}.get(collection, collection[:-1])
        path = {"endpoint_groups": "/OS-EP-FILTER/endpoint_groups"}.get(collection,
                                                                        f"/{collection}")
        return (await self.keystone("POST", path, self.admin, json=body))[key]["id"]

    async def access_rule(self) -> str:
        """A rule of the owner's that no credential uses any more."""
        uid, n = self.owner.user_id, next(_n)
        cred = (await self.keystone("POST", f"/users/{uid}/application_credentials",
                                    self.owner, json={"application_credential": {
                                        "name": f"ar{n}", "access_rules": [{
                                            "service": "compute", "method": "GET",
                                            "path": f"/v2.1/servers/{n}"}]}}))
        cred = cred["application_credential"]
        await self.keystone("DELETE", f"/users/{uid}/application_credentials/{cred['id']}",
                            self.owner, 204)
        return str(cred["access_rules"][0]["id"])

    async def trust(self) -> str:
        """A trust from the owner (member on its project) to the reader."""
        reader = self.who["reader"]
        assert reader is not None
        return (await self.keystone("POST", "/OS-TRUST/trusts", self.owner, json={"trust": {
            "trustor_user_id": self.owner.user_id, "trustee_user_id": reader.user_id,
            "project_id": self.owner.project_id, "impersonation": False,
            "roles": [{"name": "member"}]}}))["trust"]["id"]

    async def identity(self, collection: str) -> str:
        """A fresh project, user, group, domain (disabled, so deletable) or role."""
        n = next(_n)
        body: dict[str, Any] = {"name": f"x{n}"}
        if collection == "domains":
            body["enabled"] = False
        key = collection[:-1]
        return (await self.keystone("POST", f"/{collection}", self.admin,
                                    json={key: body}))[key]["id"]


async def build(cloud: Cloud) -> Seed:
    seed = Seed(cloud)
    a = await cloud.project("owner-project")
    b = await cloud.project("other-project")
    seed.who = {"anon": None, "owner": await cloud.user(a, "member"),
                "reader": await cloud.user(a, "reader"),
                "other_member": await cloud.user(b, "member"),
                "other_admin": await cloud.user(b, "admin")}
    ids = seed.ids
    for pid in (a, b):  # the matrix makes many objects: no limits in its way
        await seed.nova("PUT", f"/v2.1/os-quota-sets/{pid}", seed.admin, 200, json={
            "quota_set": {"instances": -1, "cores": -1, "ram": -1, "server_groups": -1,
                          "key_pairs": -1}})
        await seed.neutron("PUT", f"/v2.0/quotas/{pid}", seed.admin, 200, json={"quota": {
            k: -1 for k in ("network", "subnet", "port", "security_group",
                            "security_group_rule", "router", "floatingip")}})
    ids["public_image"] = await cloud.image_id()
    ids["host"] = await seed.host("az1")
    ids["network"] = await seed.network()
    ids["subnet"] = await seed.subnet(ids["network"])
    ids["port"] = await seed.port()
    ids["secgroup"] = await seed.secgroup()
    ids["external"] = await seed.external()
    ids["router"] = await seed.router()
    ids["floatingip"] = await seed.floatingip()
    ids["subnetpool"] = await seed.subnetpool()
    ids["address_scope"] = await seed.address_scope()
    ids["rbac"] = await seed.rbac()
    from tests.loadbalancer import authz_seed

    seed.lb = await authz_seed.tree(seed)
    ids["rule"] = await seed.rule()
    ids["server"] = await seed.server()
    ids["server_port"] = await seed.attached(ids["server"])
    actions = await seed.nova("GET", f"/v2.1/servers/{ids['server']}/os-instance-actions",
                              seed.owner, 200)
    ids["request"] = actions["instanceActions"][0]["request_id"]
    ids["keypair"] = await seed.keypair()
    ids["server_group"] = await seed.server_group()
    ids["image"] = await seed.image()
    ids["flavor"] = await seed.flavor()
    ids["app_cred"] = await seed.app_cred()
    await seed.designate("PATCH", f"/v2/quotas/{a}", seed.admin, 200, json={
        "zones": -1, "zone_recordsets": -1, "zone_records": -1})
    await seed.designate("POST", "/v2/tlds", seed.admin, 201, json={"name": "example"})
    ids["zone"] = await seed.zone()
    ids["zname"] = (await seed.designate("GET", f"/v2/zones/{ids['zone']}", seed.owner,
                                         200))["name"]
    ids["recordset"] = await seed.recordset()
    ids["import"] = await seed.import_task()
    for kind in ("tsigkeys", "tlds", "blacklists"):
        ids[kind] = await seed.dns_admin(kind)
    ids["export"] = await seed.export_task()
    ids["xfer_req"] = (await seed.xfer_request())["id"]
    own = await seed.xfer_request(a)
    ids["xfer_acc"] = (await seed.designate("POST", "/v2/zones/tasks/transfer_accepts",
                                            seed.owner, 201, json={
                                                "key": own["key"],
                                                "zone_transfer_request_id": own["id"]}))["id"]
    for coll in ("groups",):
        ids[coll] = await seed.identity(coll)
    roles = await cloud.objects.list(m.ROLE, "", label_selector="name=member")
    ids["role"] = roles.items[0]["metadata"]["name"]
    roles = await cloud.objects.list(m.ROLE, "", label_selector="name=reader")
    ids["reader_role"] = roles.items[0]["metadata"]["name"]
    for coll, key in (("services", "services"), ("endpoints", "endpoints"),
                      ("regions", "regions")):
        listed = await seed.keystone("GET", f"/{coll}", seed.admin, 200)
        ids[coll] = listed[key][0]["id"]
    ids["credential"] = await seed.catalog_obj("credentials")
    ids["metadef"] = await seed.metadef()
    ids["policy"] = await seed.catalog_obj("policies")
    ids["trust"] = await seed.trust()
    ids["access_rule"] = await seed.access_rule()
    ids["endpoint_group"] = await seed.catalog_obj("endpoint_groups")
    hv = await seed.nova("GET", "/v2.1/os-hypervisors", seed.admin, 200)
    ids["hypervisor"] = str(hv["hypervisors"][0]["id"])
    svc = await seed.nova("GET", "/v2.1/os-services", seed.admin, 200)
    ids["service"] = str(svc["services"][0]["id"])
    aggs = await seed.nova("GET", "/v2.1/os-aggregates", seed.admin, 200)
    ids["aggregate"] = str(aggs["aggregates"][0]["id"])
    agents = await seed.neutron("GET", "/v2.0/agents", seed.admin, 200)
    ids["agent"] = agents["agents"][0]["id"]
    return seed
