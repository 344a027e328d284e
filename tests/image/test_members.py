"""Image members: sharing a shared image with other projects."""

from __future__ import annotations

from .conftest import Glance


async def test_sharing_lifecycle(glance: Glance, member) -> None:
    owner_pid, owner = member
    beta = await glance.project("beta")
    btok = await glance.token(beta)
    gamma_tok = await glance.token(await glance.project("gamma"))
    img = await glance.create(owner, name="shared-one")
    iid = img["id"]
    assert (await glance.request("GET", f"/v2/images/{iid}", btok)).status_code == 404

    r = await glance.request("POST", f"/v2/images/{iid}/members", owner, json={"member": beta})
    assert r.status_code == 200, r.text
    m = r.json()
    assert (m["image_id"], m["member_id"], m["status"]) == (iid, beta, "pending")
    assert m["schema"] == "/v2/schemas/member" and m["created_at"].endswith("Z")
    r = await glance.request("POST", f"/v2/images/{iid}/members", owner, json={"member": beta})
    assert r.status_code == 409

    # a pending member may look at the image but does not list it yet
    assert (await glance.show(btok, iid))["name"] == "shared-one"
    listed = (await glance.request("GET", "/v2/images", btok)).json()["images"]
    assert listed == []
    pending = (await glance.request("GET", "/v2/images?member_status=pending", btok)).json()
    assert [i["id"] for i in pending["images"]] == [iid]

    r = await glance.request("PUT", f"/v2/images/{iid}/members/{beta}", owner,
                             json={"status": "accepted"})
    assert r.status_code == 403
    r = await glance.request("PUT", f"/v2/images/{iid}/members/{beta}", btok,
                             json={"status": "maybe"})
    assert r.status_code == 400
    r = await glance.request("PUT", f"/v2/images/{iid}/members/{beta}", btok,
                             json={"status": "accepted"})
    assert r.status_code == 200 and r.json()["status"] == "accepted"
    listed = (await glance.request("GET", "/v2/images", btok)).json()["images"]
    assert [i["id"] for i in listed] == [iid]

    # the member may read but not change the image
    r = await glance.patch(btok, iid, [{"op": "replace", "path": "/name", "value": "mine"}])
    assert r.status_code == 403
    assert (await glance.request("GET", f"/v2/images/{iid}", gamma_tok)).status_code == 404

    # listing members: the owner sees all, a member only itself
    gamma = await glance.project("delta")
    await glance.request("POST", f"/v2/images/{iid}/members", owner, json={"member": gamma})
    all_m = (await glance.request("GET", f"/v2/images/{iid}/members", owner)).json()
    assert sorted(x["member_id"] for x in all_m["members"]) == sorted([beta, gamma])
    assert all_m["schema"] == "/v2/schemas/members"
    own = (await glance.request("GET", f"/v2/images/{iid}/members", btok)).json()
    assert [x["member_id"] for x in own["members"]] == [beta]
    r = await glance.request("GET", f"/v2/images/{iid}/members/{gamma}", btok)
    assert r.status_code == 404
    r = await glance.request("GET", f"/v2/images/{iid}/members/{beta}", btok)
    assert r.json()["status"] == "accepted"

    # only the owner removes members
    r = await glance.request("DELETE", f"/v2/images/{iid}/members/{beta}", btok)
    assert r.status_code == 403
    r = await glance.request("DELETE", f"/v2/images/{iid}/members/{beta}", owner)
    assert r.status_code == 204
    assert (await glance.request("GET", f"/v2/images/{iid}", btok)).status_code == 404
    r = await glance.request("DELETE", f"/v2/images/{iid}/members/{beta}", owner)
    assert r.status_code == 404
    assert owner_pid == img["owner"]


async def test_members_need_a_shared_image(glance: Glance, member) -> None:
    _, tok = member
    beta = await glance.project("beta")
    img = await glance.create(tok, name="priv", visibility="private")
    r = await glance.request("POST", f"/v2/images/{img['id']}/members", tok,
                             json={"member": beta})
    assert r.status_code == 403 and "shared" in r.json()["message"]
    r = await glance.request("GET", f"/v2/images/{img['id']}/members", tok)
    assert r.status_code == 403
    shared = await glance.create(tok, name="sh")
    for body in ({}, {"member": ""}, {"member": 5}):
        r = await glance.request("POST", f"/v2/images/{shared['id']}/members", tok, json=body)
        assert r.status_code == 400, body


async def test_membership_lapses_when_image_goes_private(glance: Glance, member) -> None:
    _, tok = member
    beta = await glance.project("beta")
    btok = await glance.token(beta)
    img = await glance.create(tok, name="sh")
    await glance.request("POST", f"/v2/images/{img['id']}/members", tok, json={"member": beta})
    await glance.request("PUT", f"/v2/images/{img['id']}/members/{beta}", btok,
                         json={"status": "accepted"})
    assert (await glance.show(btok, img["id"]))["id"] == img["id"]
    await glance.patch(tok, img["id"], [{"op": "replace", "path": "/visibility",
                                         "value": "private"}])
    assert (await glance.request("GET", f"/v2/images/{img['id']}", btok)).status_code == 404
