"""GET /v2/images: visibility rules, filters, sorting and pagination."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from .conftest import Glance


async def names(glance: Glance, tok: str, query: str = "") -> list[str]:
    r = await glance.request("GET", f"/v2/images{query}", tok)
    assert r.status_code == 200, r.text
    return [i["name"] for i in r.json()["images"]]


async def test_listing_respects_visibility(glance: Glance, member) -> None:
    pid, tok = member
    beta = await glance.project("beta")
    btok = await glance.token(beta)
    admin = await glance.admin_token()
    await glance.create(tok, name="a-private", visibility="private")
    await glance.create(tok, name="a-shared")
    await glance.create(tok, name="a-community", visibility="community")
    await glance.create(btok, name="b-private", visibility="private")
    await glance.create(btok, name="b-community", visibility="community")
    await glance.create(admin, name="public", visibility="public")
    assert sorted(await names(glance, tok)) == ["a-community", "a-private", "a-shared",
                                                "public"]
    assert sorted(await names(glance, btok)) == ["b-community", "b-private", "public"]
    assert sorted(await names(glance, tok, "?visibility=community")) == [
        "a-community", "b-community"]
    assert await names(glance, tok, "?visibility=public") == ["public"]
    assert sorted(await names(glance, tok, "?visibility=all")) == [
        "a-community", "a-private", "a-shared", "b-community", "public"]
    assert sorted(await names(glance, admin, "?visibility=all")) == [
        "a-community", "a-private", "a-shared", "b-community", "b-private", "public"]
    assert sorted(await names(glance, admin, f"?owner={beta}")) == ["b-private"]
    r = await glance.request("GET", "/v2/images?visibility=bogus", tok)
    assert r.status_code == 400


async def test_filters(glance: Glance, member) -> None:
    _, tok = member
    small = await glance.create(tok, name="small", disk_format="qcow2", tags=["x", "y"],
                                os_distro="cirros")
    await glance.upload(tok, small["id"], b"s" * 10)
    big = await glance.create(tok, name="big", container_format="ovf", tags=["x"],
                              protected=True)
    await glance.upload(tok, big["id"], b"b" * 1000)
    await glance.create(tok, name="hidden", os_hidden=True)
    await glance.create(tok, name="empty")
    assert await names(glance, tok, "?name=small") == ["small"]
    assert sorted(await names(glance, tok, "?name=in:small,big")) == ["big", "small"]
    assert sorted(await names(glance, tok, "?status=active")) == ["big", "small"]
    assert await names(glance, tok, "?status=queued") == ["empty"]
    assert await names(glance, tok, "?disk_format=qcow2") == ["small"]
    assert await names(glance, tok, "?container_format=ovf") == ["big"]
    assert sorted(await names(glance, tok, "?tag=x")) == ["big", "small"]
    assert await names(glance, tok, "?tag=x&tag=y") == ["small"]
    assert await names(glance, tok, "?size_min=100") == ["big"]
    assert await names(glance, tok, "?size_max=100") == ["small"]
    assert await names(glance, tok, "?os_hidden=true") == ["hidden"]
    assert await names(glance, tok, "?protected=true") == ["big"]
    assert await names(glance, tok, "?os_distro=cirros") == ["small"]
    assert await names(glance, tok, f"?id={big['id']}") == ["big"]
    assert await names(glance, tok, "?created_at=gte:2000-01-01T00:00:00Z&name=big") == ["big"]
    assert await names(glance, tok, "?created_at=lt:2000-01-01T00:00:00Z") == []
    for bad in ("?size_min=lots", "?os_hidden=maybe", "?protected=1", "?member_status=x",
                "?changes-since=2020-01-01", "?created_at=gt:yesterday"):
        r = await glance.request("GET", f"/v2/images{bad}", tok)
        assert r.status_code == 400, bad


async def test_sorting(glance: Glance, member) -> None:
    _, tok = member
    for n, size in (("b", 30), ("a", 10), ("c", 20)):
        img = await glance.create(tok, name=n)
        await glance.upload(tok, img["id"], b"0" * size)
    assert await names(glance, tok) == ["c", "a", "b"]  # created_at desc
    assert await names(glance, tok, "?sort_key=name&sort_dir=asc") == ["a", "b", "c"]
    assert await names(glance, tok, "?sort_key=name") == ["c", "b", "a"]
    assert await names(glance, tok, "?sort=size:asc") == ["a", "c", "b"]
    assert await names(glance, tok, "?sort=size:desc,name:asc") == ["b", "c", "a"]
    assert await names(glance, tok, "?sort_key=status&sort_key=name&sort_dir=asc") == [
        "a", "b", "c"]
    for bad in ("?sort_key=owner", "?sort_dir=up", "?sort=name:asc&sort_key=name",
                "?sort_key=name&sort_key=size&sort_dir=asc&sort_dir=desc&sort_dir=asc"):
        r = await glance.request("GET", f"/v2/images{bad}", tok)
        assert r.status_code == 400, bad


async def test_pagination_with_marker_and_next(glance: Glance, member) -> None:
    _, tok = member
    for i in range(7):
        await glance.create(tok, name=f"img{i}")
    seen: list[str] = []
    url = "/v2/images?limit=3&sort=name:asc"
    pages = 0
    while url:
        r = await glance.request("GET", url.removeprefix("/image"), tok)
        body = r.json()
        seen += [i["name"] for i in body["images"]]
        assert body["first"].startswith("/v2/images?limit=3")
        url = body.get("next")
        if url:
            assert url.startswith("/v2/images?")
            assert "marker" in parse_qs(urlsplit(url).query)
        pages += 1
    assert seen == [f"img{i}" for i in range(7)] and pages == 3
    r = await glance.request("GET", "/v2/images?marker=nope", tok)
    assert r.status_code == 400
    for bad in ("?limit=x", "?limit=-1"):
        assert (await glance.request("GET", f"/v2/images{bad}", tok)).status_code == 400
    r = await glance.request("GET", "/v2/images?limit=0", tok)
    assert r.json()["images"] == [] and "next" not in r.json()


async def test_default_limit_pages_through_everything(glance: Glance, member) -> None:
    _, tok = member
    for i in range(30):
        await glance.create(tok, name=f"n{i:02d}")
    body = (await glance.request("GET", "/v2/images", tok)).json()
    assert len(body["images"]) == 25 and "next" in body
    rest = (await glance.request("GET", body["next"], tok)).json()
    assert len(rest["images"]) == 5 and "next" not in rest
