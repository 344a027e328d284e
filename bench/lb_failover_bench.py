"""ACTIVE_STANDBY failover at the data-plane level: keepalived (kumo.drivers.keepalived)
between two namespaces standing for two hosts' ``qlb-<id>``, a client probing the VIP
every 10 ms with a new connection; the active side is killed (keepalived SIGKILL, uplink
down). Reports kill → first answer from the standby and last failed → first served,
p50 over N runs. Everything runs in namespaces the script creates and deletes.

    sudo PYTHONPATH=src .venv/bin/python bench/lb_failover_bench.py --runs 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.loadbalancer import vrrp  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--advert-ms", type=int, default=200)
    args = ap.parse_args()
    runs = [vrrp.failover(args.advert_ms) for _ in range(args.runs)]
    out = {"runs": args.runs, "advert_ms": args.advert_ms,
           "kill_to_first_served_p50_s": statistics.median(
               r["kill_to_first_served_s"] for r in runs),
           "kill_to_first_served_max_s": max(r["kill_to_first_served_s"] for r in runs),
           "last_failed_to_first_served_p50_s": statistics.median(
               r["last_failed_to_first_served_s"] for r in runs),
           "failed_after_takeover": sum(r["failed_after_takeover"] for r in runs),
           "load_1min": round(os.getloadavg()[0], 2), "each": runs}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
