"""Nova's /images proxy: what Glance holds, as Nova shows it, below microversion 2.36."""

from __future__ import annotations

from .conftest import Nova, Tenant


async def test_images_proxy_show_list_delete(nova: Nova, alice: Tenant, public_image: str
                                             ) -> None:
    own = await nova.image(alice.project_id, visibility="private")
    bob = await nova.tenant("bravo")
    hidden = await nova.image(bob.project_id, visibility="private")
    listed = (await nova.ok("GET", "/v2.1/images", alice, version="2.35"))["images"]
    ids = {i["id"] for i in listed}
    assert {own, public_image} <= ids and hidden not in ids
    detail = (await nova.ok("GET", f"/v2.1/images/{own}", alice, version="2.1"))["image"]
    assert detail["status"] == "ACTIVE" and detail["progress"] == 100
    assert detail["links"][0]["href"].endswith(f"/v2.1/images/{own}")
    r = await nova.call("GET", f"/v2.1/images/{hidden}", alice, version="2.1")
    assert r.status_code == 404
    r = await nova.call("GET", f"/v2.1/images/{own}", alice, version="2.36")
    assert r.status_code == 404  # the proxy is gone from 2.36, as in Nova
    r = await nova.call("DELETE", f"/v2.1/images/{public_image}", alice, version="2.1")
    assert r.status_code == 403  # not hers
    r = await nova.call("DELETE", f"/v2.1/images/{own}", alice, version="2.1")
    assert r.status_code == 204
    r = await nova.call("GET", f"/v2.1/images/{own}", alice, version="2.1")
    assert r.status_code == 404


async def test_images_proxy_filters(nova: Nova, alice: Tenant, public_image: str) -> None:
    a = await nova.image(alice.project_id, visibility="private")
    b = await nova.image(alice.project_id, visibility="private")
    obj = await nova.objects.get("Image", "", b)
    obj["spec"]["properties"].update({"image_type": "snapshot", "instance_uuid": "s-1"})
    await nova.objects.update(obj)
    name_a = (await nova.objects.get("Image", "", a))["spec"]["name"]

    async def ids(query: str) -> list[str]:
        body = await nova.ok("GET", f"/v2.1/images/detail?{query}", alice, version="2.1")
        return [i["id"] for i in body["images"]]

    assert await ids(f"name={name_a}") == [a]
    assert await ids("type=snapshot") == [b]
    assert await ids("server=http://x/servers/s-1") == [b]
    assert len(await ids("limit=1")) == 1
    first = (await ids("limit=1"))[0]
    assert first not in await ids(f"marker={first}")
    r = await nova.call("GET", "/v2.1/images?limit=x", alice, version="2.1")
    assert r.status_code == 400
