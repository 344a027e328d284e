"""Layer-3 kinds: Router and FloatingIP (field owners: ``kumo.model.network``)."""

from __future__ import annotations

from pydantic import Field

from kumo.model import network as nm
from kumo.model.base import Model, Named, Resource

from .network import FixedIp, Route


class ExternalGateway(Model):
    network_id: str
    enable_snat: bool = True
    external_fixed_ips: list[FixedIp] = Field(default_factory=list)


class RouterSpec(Named):
    admin_state_up: bool = True
    external_gateway: ExternalGateway | None = None
    routes: list[Route] = Field(default_factory=list)
    host: str | None = None  # the router scheduler's binding (control/routers.py)


class RouterStatus(Model):
    status: str = "ACTIVE"
    host: str | None = None


class Router(Resource):
    KIND = nm.ROUTER
    spec: RouterSpec = Field(default_factory=RouterSpec)
    status: RouterStatus = Field(default_factory=RouterStatus)


class FloatingIPSpec(Model):
    description: str | None = None
    tags: list[str] = Field(default_factory=list)
    floating_network_id: str
    floating_subnet_id: str = ""
    floating_ip_address: str
    fip_port_id: str = ""
    port_id: str | None = None
    fixed_ip_address: str | None = None
    router_id: str | None = None
    dns_name: str = ""  # Neutron dns-integration
    dns_domain: str = ""


class FloatingIPStatus(Model):
    status: str = "DOWN"


class FloatingIP(Resource):
    KIND = nm.FLOATING_IP
    spec: FloatingIPSpec
    status: FloatingIPStatus = Field(default_factory=FloatingIPStatus)
