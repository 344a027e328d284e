"""Load-balancer kind: the whole Octavia tree in one object (``kumo.model.loadbalancer``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kumo.model import loadbalancer as lbm
from kumo.model.base import Model, Named, Resource


class Child(Named):
    id: str
    admin_state_up: bool = True
    gen: int = 1  # the LoadBalancer generation that last changed this child


class Member(Child):
    address: str
    protocol_port: int
    weight: int = 1
    backup: bool = False
    subnet_id: str | None = None
    monitor_address: str | None = None
    monitor_port: int | None = None


class HealthMonitor(Child):
    type: str
    delay: int
    timeout: int
    max_retries: int
    max_retries_down: int = 3
    http_method: str | None = None
    url_path: str | None = None
    expected_codes: str | None = None


class Pool(Child):
    protocol: str
    lb_algorithm: str
    listener_id: str | None = None
    session_persistence: dict[str, Any] | None = None
    members: list[Member] = Field(default_factory=list)
    health_monitor: HealthMonitor | None = None


class L7Rule(Child):
    type: str  # PATH | HOST_NAME | HEADER | COOKIE | FILE_TYPE
    compare_type: str  # REGEX | STARTS_WITH | ENDS_WITH | CONTAINS | EQUAL_TO
    value: str
    key: str | None = None
    invert: bool = False


class L7Policy(Child):
    action: str  # REDIRECT_TO_POOL | REDIRECT_TO_URL | REDIRECT_PREFIX | REJECT
    redirect_pool_id: str | None = None
    redirect_url: str | None = None
    redirect_prefix: str | None = None
    redirect_http_code: int | None = None
    rules: list[L7Rule] = Field(default_factory=list)


class Listener(Child):
    protocol: str
    protocol_port: int
    default_pool_id: str | None = None
    connection_limit: int = -1
    timeout_client_data: int = 50000
    timeout_member_connect: int = 5000
    timeout_member_data: int = 50000
    timeout_tcp_inspect: int = 0
    insert_headers: dict[str, str] = Field(default_factory=dict)
    allowed_cidrs: list[str] = Field(default_factory=list)
    l7policies: list[L7Policy] = Field(default_factory=list)  # in position order


class LoadBalancerSpec(Named):
    admin_state_up: bool = True
    vip_port_id: str = ""
    vip_address: str = ""
    vip_network_id: str = ""
    vip_subnet_id: str = ""
    provider: str = lbm.PROVIDER
    flavor_id: str | None = None
    host: str | None = None
    listeners: list[Listener] = Field(default_factory=list)
    pools: list[Pool] = Field(default_factory=list)


class LoadBalancerStatus(Model):
    observed_generation: int | None = None
    host: str | None = None
    error: str | None = None
    operating: dict[str, str] = Field(default_factory=dict)
    stats: dict[str, dict[str, int]] = Field(default_factory=dict)


class LoadBalancer(Resource):
    KIND = lbm.LOADBALANCER
    spec: LoadBalancerSpec = Field(default_factory=LoadBalancerSpec)
    status: LoadBalancerStatus = Field(default_factory=LoadBalancerStatus)
