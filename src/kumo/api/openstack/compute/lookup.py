"""Looking up what a server refers to: flavors, images, keypairs, zones, groups.

Each lookup answers with the object or raises the error Nova gives for that
reference in a server request (mostly 400: the request is wrong, not the URL).
Images are read straight from the store with Glance's visibility rules.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from kumo import store
from kumo.model import compute as cm
from kumo.model.image import IMAGE

from ...auth import AuthContext
from .common import bad, forbidden

Obj = dict[str, Any]
DEFAULT_AZ = "nova"
GiB = 1 << 30
_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
                   r"[0-9a-fA-F]{12}$")


def is_uuid(value: str) -> bool:
    return bool(_UUID.match(value))


# ---- flavors ------------------------------------------------------------------
def flavor_accessible(ctx: AuthContext, flavor: Obj) -> bool:
    spec = flavor.get("spec") or {}
    return (ctx.is_admin or spec.get("isPublic", True)
            or ctx.project_id in (spec.get("projects") or []))


async def get_flavor(objects: store.ObjectStore, ctx: AuthContext, flavor_id: str) -> Obj | None:
    flavor = await objects.try_get(cm.FLAVOR, "", flavor_id)
    if flavor is None or not flavor_accessible(ctx, flavor):
        return None
    return flavor


def flavor_ref(ref: str) -> str:
    """A flavorRef may be an id or a link to the flavor."""
    return ref.rstrip("/").rsplit("/", 1)[-1]


def flavor_spec(flavor: Obj) -> Obj:
    """The flavor as embedded in Server.spec (later flavor edits do not change servers)."""
    s = flavor["spec"]
    return {"id": flavor["metadata"]["name"], "name": s.get("name"), "vcpus": int(s["vcpus"]),
            "ram": int(s["ram"]), "disk": int(s.get("disk", 0)),
            "ephemeral": int(s.get("ephemeral", 0)), "swap": int(s.get("swap", 0)),
            "extraSpecs": dict(s.get("extraSpecs") or {})}


# ---- images --------------------------------------------------------------------
def image_visible(ctx: AuthContext, image: Obj) -> bool:
    spec = image.get("spec") or {}
    vis = spec.get("visibility", "shared")
    if ctx.is_admin or vis in ("public", "community"):
        return True
    if spec.get("owner") == ctx.project_id:
        return True
    members = spec.get("members") or {}
    return vis == "shared" and members.get(ctx.project_id) == "accepted"


async def bootable_image(objects: store.ObjectStore, ctx: AuthContext, image_ref: str,
                         missing: str = "Can not find requested image") -> Obj:
    image_id = image_ref.rstrip("/").rsplit("/", 1)[-1]
    image = await objects.try_get(IMAGE, "", image_id) if image_id else None
    if image is None or not image_visible(ctx, image):
        raise bad(missing)
    if (image.get("status") or {}).get("state") != "active":
        raise bad(f"Image {image_id} is not active.")
    return image


def check_image_fits(ctx: AuthContext, image: Obj, flavor: Obj) -> None:
    """Nova's flavor-vs-image checks: min_ram, size and min_disk, zero-disk flavors."""
    spec, status, f = image["spec"], image.get("status") or {}, flavor_spec(flavor)
    if f["ram"] < int(spec.get("minRam") or 0):
        raise bad("Flavor's memory is too small for requested image.")
    disk = f["disk"] * GiB
    min_disk = int(spec.get("minDisk") or 0) * GiB
    size = int(status.get("size") or 0)
    if disk == 0:
        if not ctx.is_admin:
            raise forbidden("Only volume-backed servers are allowed for flavors with zero disk.")
        return
    if size > disk:
        raise bad(f"Flavor's disk is too small for requested image. Flavor disk is {disk} "
                  f"bytes, image is {size} bytes.")
    if min_disk > disk:
        raise bad(f"Flavor's disk is smaller than the minimum size specified in image "
                  f"metadata. Flavor disk is {disk} bytes, minimum size is {min_disk} bytes.")


def image_spec(image: Obj) -> Obj:
    """The image as embedded in Server.spec: what the agent needs to fetch and boot it."""
    spec, status = image["spec"], image.get("status") or {}
    props = dict(spec.get("properties") or {})
    return {"id": image["metadata"]["name"], "name": spec.get("name"),
            "diskFormat": spec.get("diskFormat"), "checksum": status.get("checksum"),
            "size": status.get("size"), "kernelId": props.get("kernel_id"),
            "ramdiskId": props.get("ramdisk_id"), "properties": props}


# ---- keypairs ------------------------------------------------------------------
def keypair_name(user_id: str, name: str) -> str:
    return f"{user_id}.{hashlib.sha256(name.encode()).hexdigest()[:32]}"


async def get_keypair(objects: store.ObjectStore, user_id: str, name: str) -> Obj | None:
    return await objects.try_get(cm.KEYPAIR, "", keypair_name(user_id, name))


# ---- zones and groups -------------------------------------------------------------
def host_zone(host: Obj) -> str:
    return (host.get("spec") or {}).get("availabilityZone") or DEFAULT_AZ


async def check_zone(objects: store.ObjectStore, ctx: AuthContext, zone: str | None
                     ) -> tuple[str | None, str | None]:
    """(zone, forced host) for a request; "zone:host" forcing is for admins only."""
    if not zone:
        return None, None
    name, _, host = zone.partition(":")
    forced = None
    if host:
        if not ctx.is_admin:
            raise forbidden("Policy doesn't allow os_compute_api:servers:create:forced_host "
                            "to be performed.")
        forced = await check_host(objects, host)
    if not name:
        return None, forced
    if name == DEFAULT_AZ:
        return name, forced
    for host_obj in (await objects.list(cm.HOST)).items:
        if host_zone(host_obj) == name and (host_obj.get("spec") or {}).get("enabled", True):
            return name, forced
    raise bad("The requested availability zone is not available")


async def check_host(objects: store.ObjectStore, host: str) -> str:
    """A host an admin asked for by name must exist."""
    if await objects.try_get(cm.HOST, "", host) is None:
        raise bad(f"Compute host {host} could not be found.")
    return host


def zones_of(hosts: list[Obj]) -> tuple[list[str], list[str]]:
    """(available, not available) zones: a zone is available with one enabled host."""
    enabled: set[str] = set()
    seen: set[str] = set()
    for h in hosts:
        zone = host_zone(h)
        seen.add(zone)
        if (h.get("spec") or {}).get("enabled", True):
            enabled.add(zone)
    return sorted(enabled), sorted(seen - enabled)


def group_hint(hints: Obj | None) -> str | None:
    if not hints or hints.get("group") in (None, "", []):
        return None
    group = hints["group"]
    if isinstance(group, list):
        if len(group) != 1 or not isinstance(group[0], str):
            raise bad("Invalid input for field/attribute group. Value: "
                      f"{group}. {group} is not valid under any of the given schemas")
        group = group[0]
    if not isinstance(group, str) or not is_uuid(group):
        raise bad(f"Invalid input for field/attribute group. Value: {group}. "
                  f"'{group}' is not a 'uuid'")
    return group


async def check_group(objects: store.ObjectStore, project_id: str, group_id: str,
                      adding: int, members_limit: int) -> Obj:
    group = await objects.try_get(cm.SERVER_GROUP, project_id, group_id)
    if group is None:
        raise bad(f"Instance group {group_id} could not be found.")
    servers = (await objects.list(cm.SERVER, project_id)).items
    members = [s for s in servers if s["spec"].get("group") == group_id
               and not s["metadata"].get("deletionTimestamp")]
    if members_limit >= 0 and len(members) + adding > members_limit:
        raise forbidden("Quota exceeded, too many servers in group")
    return group
