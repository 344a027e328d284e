"""The image service through the real `openstack` CLI against a live `kumo up`."""

from __future__ import annotations

import filecmp
import hashlib
import os
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def glance_cloud(cloud):
    r = httpx.get(cloud.base_url + "/image/", timeout=30)
    if r.status_code != 300:
        pytest.skip("this kumo does not serve the image API at /image yet")
    return cloud


def test_image_lifecycle_with_cli(glance_cloud, tmp_path: Path) -> None:
    os_ = glance_cloud.openstack
    src = tmp_path / "disk.qcow2"
    data = os.urandom(3 * 1024 * 1024 + 11)
    src.write_bytes(data)

    img = os_("image", "create", "--file", str(src), "--disk-format", "qcow2",
              "--container-format", "bare", "e2e-cli-image")
    assert img["status"] == "active" and img["size"] == len(data)
    assert img["checksum"] == hashlib.md5(data).hexdigest()
    iid = img["id"]

    shown = os_("image", "show", iid)
    assert shown["name"] == "e2e-cli-image" and shown["disk_format"] == "qcow2"
    assert shown["properties"]["os_hash_algo"] == "sha512"
    assert shown["properties"]["os_hash_value"] == hashlib.sha512(data).hexdigest()
    assert iid in {i["ID"] for i in os_("image", "list")}
    assert [i["ID"] for i in os_("image", "list", "--name", "e2e-cli-image")] == [iid]

    out = tmp_path / "back.qcow2"
    os_("image", "save", "--file", str(out), iid, json_out=False)
    assert filecmp.cmp(src, out, shallow=False)

    os_("image", "set", "--property", "e2e_key=e2e-value", "--tag", "e2e", iid, json_out=False)
    shown = os_("image", "show", iid)
    assert shown["properties"]["e2e_key"] == "e2e-value" and shown["tags"] == ["e2e"]

    os_("image", "set", "--protected", iid, json_out=False)
    p = os_("image", "delete", iid, json_out=False, check=False)
    assert p.returncode != 0 and "protected" in p.stderr
    assert os_("image", "show", iid)["status"] == "active"

    os_("image", "set", "--unprotected", iid, json_out=False)
    os_("image", "delete", iid, json_out=False)
    gone = os_("image", "show", iid, json_out=False, check=False)
    assert gone.returncode != 0


def test_kernel_ramdisk_images_with_cli(glance_cloud, tmp_path: Path) -> None:
    os_ = glance_cloud.openstack
    blob = tmp_path / "k"
    blob.write_bytes(os.urandom(4096))
    kernel = os_("image", "create", "--file", str(blob), "--disk-format", "aki",
                 "--container-format", "aki", "e2e-kernel")
    ramdisk = os_("image", "create", "--file", str(blob), "--disk-format", "ari",
                  "--container-format", "ari", "e2e-ramdisk")
    ami = os_("image", "create", "--file", str(blob), "--disk-format", "ami",
              "--container-format", "ami", "--property", f"kernel_id={kernel['id']}",
              "--property", f"ramdisk_id={ramdisk['id']}", "e2e-ami")
    shown = os_("image", "show", ami["id"])
    assert shown["properties"]["kernel_id"] == kernel["id"]
    assert shown["properties"]["ramdisk_id"] == ramdisk["id"]
    for i in (ami, kernel, ramdisk):
        os_("image", "delete", i["id"], json_out=False)
