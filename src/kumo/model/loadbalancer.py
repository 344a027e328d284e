"""Load-balancer kinds (Octavia v2) — and who owns which field.

LoadBalancer (namespaced, name = the Octavia id): one object holds the whole tree, so a
change anywhere in it is one compare-and-swap and Octavia's "immutable while PENDING"
is the object's generation not yet observed.
  spec   facade (kumo.core.loadbalancers): {name, description, adminStateUp, tags[],
         vipPortId, vipAddress, vipNetworkId, vipSubnetId, provider "kumo", flavorId,
         listeners[{id, name, protocol, protocolPort, defaultPoolId, connectionLimit,
         adminStateUp, timeouts..., gen, l7policies[{id, action, redirectPoolId,
         redirectUrl, redirectPrefix, redirectHttpCode, gen, rules[{id, type,
         compareType, key, value, invert, gen}]}] (list order = position)}], pools[{id, name, protocol, lbAlgorithm,
         listenerId, adminStateUp, sessionPersistence, gen, members[{id, address,
         protocolPort, weight, backup, adminStateUp, subnetId, monitorAddress,
         monitorPort, gen}], healthMonitor{id, type, delay, timeout, maxRetries,
         maxRetriesDown, httpMethod, urlPath, expectedCodes, adminStateUp, gen}|null}]}
         Each child's ``gen`` is the object generation that last changed it: the child
         is PENDING_* until the agent has observed that generation.
         host + label kumo.io/host (the load-balancer scheduler, control/loadbalancers.py)
  status agent of that host: {observedGeneration, host, error, operating {id: status},
         stats {listener/pool/member id: {scur, qcur, rate, bin, bout, ...}}}
The VIP is a Port (deviceOwner "Octavia", deviceId "lb-<id>") bound to the LB's host;
that host's overlay agent plugs it as a veth into ``qlb-<id>`` where HAProxy runs.
"""

from __future__ import annotations

from .registry import KindInfo, register

LOADBALANCER = "LoadBalancer"
VIP_OWNER = "Octavia"
PROVIDER = "kumo"
QUOTA_SERVICE = "load-balancer"
QUOTA_NAME = "load-balancer"  # the QuotaSet holding a project's Octavia limits
QUOTA_DEFAULTS: dict[str, int] = {"load_balancer": 10, "listener": -1, "pool": -1,
                                  "member": -1, "health_monitor": -1}
NS_PREFIX = "qlb-"

register(KindInfo(LOADBALANCER, "loadbalancers", namespaced=True, short_names=("lb",)))


def vip_device_id(lb_id: str) -> str:
    return f"lb-{lb_id}"


def lb_netns(lb_id: str) -> str:
    """Per load balancer, on its host: the VIP leg and the HAProxy serving it."""
    return NS_PREFIX + lb_id


def vip_ifname(port_id: str) -> str:
    return "lb-" + port_id[:11]


# ---- L7 (Octavia's l7policy/l7rule vocabulary and the value grammar the face enforces;
# kumo.drivers.haproxy_l7 checks the same grammar again before writing a file) ----------
L7_ACTIONS = ("REDIRECT_TO_POOL", "REDIRECT_TO_URL", "REDIRECT_PREFIX", "REJECT")
L7_RULE_TYPES = ("PATH", "HOST_NAME", "HEADER", "COOKIE", "FILE_TYPE")
L7_UNSUPPORTED_TYPES = ("SSL_CONN_HAS_CERT", "SSL_VERIFY_RESULT", "SSL_DN_FIELD")
L7_COMPARE = ("REGEX", "STARTS_WITH", "ENDS_WITH", "CONTAINS", "EQUAL_TO")
L7_REDIRECT_CODES = (301, 302, 303, 307, 308)
L7_VALUE = r"^[\x21\x23-\x5b\x5d-\x7e]+$"  # printable ASCII, no space, quote or backslash
L7_TOKEN = r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$"  # a header or cookie name (RFC 7230 token)
L7_URL = r"^https?://[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-]+$"
