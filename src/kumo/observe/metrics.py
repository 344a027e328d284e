"""Prometheus metrics of the process: one registry, defined in one place."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter("kumo_api_requests_total", "API requests",
                   ["service", "route", "method", "status"], registry=REGISTRY)
REQUEST_LATENCY = Histogram(
    "kumo_api_request_duration_seconds", "API request latency", ["service", "route", "method"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY)
IN_FLIGHT = Gauge("kumo_api_requests_in_flight", "API requests being served", registry=REGISTRY)
STORE_OP_LATENCY = Histogram(
    "kumo_store_operation_duration_seconds", "Store operation latency", ["op"],
    buckets=(0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
    registry=REGISTRY)
STORE_OPS = Counter("kumo_store_operations_total", "Store operations", ["op", "result"],
                    registry=REGISTRY)
STORE_REVISION = Gauge("kumo_store_revision", "Current store revision", registry=REGISTRY)
STORE_COMPACT_REVISION = Gauge("kumo_store_compact_revision", "Oldest revision kept in history",
                               registry=REGISTRY)
STORE_WATCHERS = Gauge("kumo_store_watchers", "Open store watches", registry=REGISTRY)
STORE_COMPACTIONS = Counter("kumo_store_compactions_total", "Store compactions run",
                            registry=REGISTRY)
STORE_WRITE_QUEUE = Gauge("kumo_store_write_queue_depth", "Writes waiting for the writer thread",
                          registry=REGISTRY)
TOKEN_VALIDATIONS = Counter("kumo_token_validations_total", "Token validations",
                            ["result"], registry=REGISTRY)
TOKEN_CACHE_HITS = Counter("kumo_token_cache_hits_total", "Token validations served from cache",
                           registry=REGISTRY)
TOKEN_CACHE_SIZE = Gauge("kumo_token_cache_entries", "Validated tokens cached", registry=REGISTRY)
TOKENS_ISSUED = Counter("kumo_tokens_issued_total", "Tokens issued", ["method"],
                        registry=REGISTRY)
RECONCILES = Counter("kumo_reconcile_total", "Reconcile runs", ["controller", "result"],
                     registry=REGISTRY)
RECONCILE_LATENCY = Histogram("kumo_reconcile_duration_seconds", "Reconcile latency",
                              ["controller"], registry=REGISTRY)
QUEUE_DEPTH = Gauge("kumo_workqueue_depth", "Keys waiting in a controller's work queue",
                    ["controller"], registry=REGISTRY)

# ---- host agent: overlay (l2population) and DHCP ------------------------------
L2_ENTRIES = Gauge("kumo_agent_l2pop_entries", "FDB/neighbour entries on this host's VXLAN "
                   "devices", ["host", "table", "state"], registry=REGISTRY)  # programmed|desired
L2_DEVICES = Gauge("kumo_agent_network_devices", "Bridges, VXLAN devices and taps present",
                   ["host", "kind"], registry=REGISTRY)
NET_SYNC_LATENCY = Histogram(
    "kumo_agent_network_sync_duration_seconds", "Full overlay resync duration", ["host"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10), registry=REGISTRY)
NET_SYNCS = Counter("kumo_agent_network_syncs_total", "Overlay resyncs", ["host", "result"],
                    registry=REGISTRY)
NET_REPAIRS = Counter("kumo_agent_network_repairs_total", "Entries or devices re-added or "
                      "removed although desired state had not changed (drift repaired)",
                      ["host"], registry=REGISTRY)
PORTS_PLUGGED = Counter("kumo_agent_ports_plugged_total", "Ports plugged (vif-plugged events)",
                        ["host"], registry=REGISTRY)
DHCP_UP = Gauge("kumo_dhcp_up", "dnsmasq running for the network", ["network", "host"],
                registry=REGISTRY)
DHCP_LEASES = Gauge("kumo_dhcp_leases", "Leases in dnsmasq's lease file", ["network", "host"],
                    registry=REGISTRY)
DHCP_ACKS = Gauge("kumo_dhcp_acks", "DHCPACK lines logged by dnsmasq (since it was set up)",
                  ["network", "host"], registry=REGISTRY)
DHCP_NAKS = Gauge("kumo_dhcp_naks", "DHCPNAK lines logged by dnsmasq (since it was set up)",
                  ["network", "host"], registry=REGISTRY)
DHCP_RESTARTS = Counter("kumo_dhcp_restarts_total", "dnsmasq found dead and restarted",
                        ["network", "host"], registry=REGISTRY)
ROUTER_CONNTRACK = Gauge("kumo_router_conntrack_entries", "Conntrack entries in a router's "
                         "namespace", ["host", "router"], registry=REGISTRY)
FIP_PACKETS = Gauge("kumo_floatingip_nat_packets", "Packets through a floating IP's DNAT "
                    "(inbound) or SNAT (outbound) rule", ["host", "floatingip", "direction"],
                    registry=REGISTRY)
METADATA_REQUESTS = Counter("kumo_metadata_requests_total", "Metadata proxy requests",
                            ["host", "status"], registry=REGISTRY)

# ---- host agent: security groups (nftables) -----------------------------------
FW_RULES = Gauge("kumo_agent_firewall_rules", "nftables rules of the security-group tables",
                 ["host", "state"], registry=REGISTRY)  # programmed|desired
FW_ELEMENTS = Gauge("kumo_agent_firewall_set_elements", "Remote-group set elements",
                    ["host", "state"], registry=REGISTRY)  # programmed|desired
FW_LAST_APPLY = Gauge("kumo_agent_firewall_last_apply_seconds", "Time from seeing the last "
                      "change to having it programmed", ["host"], registry=REGISTRY)
FW_APPLY_LATENCY = Histogram(
    "kumo_agent_firewall_apply_duration_seconds", "Change seen → nftables transaction done",
    ["host", "kind"], buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5),
    registry=REGISTRY)  # kind: change|full
FW_REPAIRS = Counter("kumo_agent_firewall_repairs_total", "Rebuilds after the kernel's tables "
                     "were found to differ from what was programmed", ["host"], registry=REGISTRY)
FW_ERRORS = Counter("kumo_agent_firewall_errors_total", "nftables transactions refused",
                    ["host"], registry=REGISTRY)
