"""Fake hosts for the scale bench, in their own process: N host agents (fake compute
driver, exactly the agent code real hosts run) against one `kumo api`.

Each fake host talks from its own loopback address (127.1.x.y), as real hosts each
have their own: the API's per-client connection cap (1,024) then applies per host,
not to the whole fleet at once. The agents run apart from the bench's clients so
that the clients' latencies are not the agents' event-loop lag. On SIGTERM the
latency of every mutating call (start time, seconds) is written to ``--out``.
    python bench/fake_hosts.py --credentials creds.yaml --hosts 1000 --state DIR --out F
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

WRITES: list[tuple[float, float]] = []  # (wall-clock start, seconds) of each mutating call
LAGS: list[tuple[float, float]] = []  # (wall-clock, seconds) this process's loop ran late


async def watch_lag() -> None:
    """How late this process's event loop runs (a starved loop delays every agent's
    requests, and a request started seconds after its connection was opened or last
    used meets a connection the API has already closed)."""
    loop = asyncio.get_running_loop()
    while True:
        t = loop.time()
        await asyncio.sleep(0.5)
        LAGS.append((time.time(), loop.time() - t - 0.5))


def loopback(i: int) -> str:
    """The i-th fake host's own source address (127.1.0.1 upwards)."""
    n = i + 1
    return f"127.1.{n // 250}.{n % 250 + 1}"


async def run(creds: dict[str, Any], first: int, hosts: int, state: Path, ramp: float
              ) -> None:
    """One token for all (1,000 logins would be 1,000 password hashes before the run
    starts); each agent with its own client, address and watches. Agents start
    ``ramp`` a second: a thousand started in the same instant on this one process
    queued their requests for longer than the API's 10 s header timeout."""
    import httpx._transports.default as transports

    # one TLS context for all: each client loading the CA bundle took ~75 ms, two per
    # agent, which stalled this process for minutes at 1,000 hosts (a real host loads
    # it once); the connections here are plain HTTP anyway
    shared = transports.create_ssl_context()
    transports.create_ssl_context = lambda **kw: shared  # type: ignore[assignment]
    from kumo.agent.main import Agent
    from kumo.client import ApiClient
    from kumo.drivers.fake import FakeDriver

    class TimedClient(ApiClient):
        def __init__(self, creds: dict[str, Any], address: str) -> None:
            super().__init__(creds)
            old = self.http
            self.http = httpx.AsyncClient(
                timeout=old.timeout, transport=httpx.AsyncHTTPTransport(
                    local_address=address, limits=httpx.Limits(
                        max_connections=64, keepalive_expiry=2.0)))

        async def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
            start, t = time.time(), time.perf_counter()
            r = await super().request(method, url, **kw)
            if method != "GET":
                WRITES.append((start, time.perf_counter() - t))
            return r

    one = TimedClient(creds, loopback(first))
    token = await one.token()
    tasks = []
    for i in range(first, first + hosts):
        api = one if i == first else TimedClient(creds, loopback(i))
        api._token, api._token_expires = token, one._token_expires
        agent = Agent(api, FakeDriver(), f"fake-{i:04d}", state / f"h{i}")
        agent.console.interval = 3600  # fake consoles: don't measure uploads here
        tasks.append(asyncio.create_task(agent.run()))
        if ramp:
            await asyncio.sleep(1 / ramp)
    tasks.append(asyncio.create_task(watch_lag()))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--credentials", required=True)
    ap.add_argument("--first", type=int, default=0, help="index of the first fake host")
    ap.add_argument("--hosts", type=int, required=True)
    ap.add_argument("--state", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--profile", default="", help="write a cProfile of this process here")
    ap.add_argument("--ramp", type=float, default=20.0, help="agents started a second")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    creds = yaml.safe_load(Path(args.credentials).read_text())
    import cProfile

    prof = cProfile.Profile() if args.profile else None
    if prof is not None:
        prof.enable()
    try:
        asyncio.run(run(creds, args.first, args.hosts, Path(args.state), args.ramp))
    finally:
        Path(args.out).write_text(json.dumps({"writes": WRITES, "lags": LAGS}))
        if prof is not None:
            prof.disable()
            prof.dump_stats(args.profile)


if __name__ == "__main__":
    main()
