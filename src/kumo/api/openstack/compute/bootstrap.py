"""The flavors a fresh cloud has: DevStack's m1.* plus two that fit the kumo-tiny guest.

Idempotent: a flavor whose id exists is left as it is (an admin may have
changed it), so running this on every start is safe.
"""

from __future__ import annotations

from typing import Any

from kumo import store
from kumo.model import compute as cm

# (id, name, vcpus, ram MiB, disk GiB)
DEFAULT_FLAVORS = (
    ("1", "m1.tiny", 1, 512, 1),
    ("2", "m1.small", 1, 2048, 20),
    ("3", "m1.medium", 2, 4096, 40),
    ("4", "m1.large", 4, 8192, 80),
    ("5", "m1.xlarge", 8, 16384, 160),
    ("42", "m1.nano", 1, 128, 1),
    ("84", "m1.micro", 1, 192, 1),
)


def flavor_object(fid: str, name: str, vcpus: int, ram: int, disk: int) -> dict[str, Any]:
    return {"apiVersion": "kumo.io/v1", "kind": cm.FLAVOR, "metadata": {"name": fid},
            "spec": {"name": name, "vcpus": vcpus, "ram": ram, "disk": disk, "ephemeral": 0,
                     "swap": 0, "rxtxFactor": 1.0, "isPublic": True, "extraSpecs": {},
                     "description": None, "projects": []}}


async def bootstrap(rt: Any) -> None:
    """Create the default flavors that are missing (by id; names already taken are skipped)."""
    objects: store.ObjectStore = rt.objects
    existing = (await objects.list(cm.FLAVOR)).items
    ids = {f["metadata"]["name"] for f in existing}
    names = {f["spec"].get("name") for f in existing}
    for fid, name, vcpus, ram, disk in DEFAULT_FLAVORS:
        if fid in ids or name in names:
            continue
        try:
            await objects.create(flavor_object(fid, name, vcpus, ram, disk))
        except store.AlreadyExists:
            pass
