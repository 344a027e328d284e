"""The host agent's lease: a renewal the API drops is retried at once, not an interval
later (two misses in a row let a lease lapse and the host looked down)."""

from __future__ import annotations

import asyncio
import time

import httpx

from kumo.agent.host import renew_forever
from kumo.client import ApiClient
from kumo.model import compute as cm

from ..compute.conftest import Nova


class DropsLeaseWrites(httpx.AsyncBaseTransport):
    """The real API, except that the first ``drops`` lease writes lose their connection."""

    def __init__(self, inner: httpx.AsyncBaseTransport, drops: int) -> None:
        self.inner, self.drops, self.dropped = inner, drops, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "GET" and "/leases" in request.url.path and self.drops:
            self.drops -= 1
            self.dropped += 1
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        return await self.inner.handle_async_request(request)


async def test_dropped_renewal_is_retried_within_seconds(nova: Nova) -> None:
    await nova.host("hv-lease")
    admin = await nova.admin()
    api = ApiClient({"auth_url": "http://kumo/v3"})
    await api.http.aclose()
    flaky = DropsLeaseWrites(httpx.ASGITransport(app=nova.client._transport.app), drops=2)
    api.http = httpx.AsyncClient(transport=flaky, base_url="http://kumo")
    api._token, api._token_expires = admin.token, time.time() + 3600
    before = time.time()
    task = asyncio.create_task(renew_forever(api, "hv-lease", "hv-lease/1", interval=60))
    try:
        deadline = time.time() + 8
        while True:
            lease = await nova.objects.try_get(cm.LEASE, "", "hv-lease")
            if lease is not None and lease["spec"]["renewTime"] >= before:
                break
            assert time.time() < deadline, "the dropped renewals were not retried"
            await asyncio.sleep(0.1)
    finally:
        # a cancel that lands inside the in-process API's request handling can be taken
        # as the client going away and absorbed there: cancel until the task is done
        while not task.done():
            task.cancel()
            await asyncio.wait([task], timeout=1)
        await api.close()
    assert flaky.dropped == 2
