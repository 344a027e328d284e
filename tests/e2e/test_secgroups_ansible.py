"""Ansible's openstack.cloud collection against kumo: network, subnet, router (gateway on
``public``, an interface on the subnet), security group, rule, a server in that group and
its floating IP, applied twice — the second run must change nothing
(the server module reads the server's groups through Nova's os-security-groups).

Ansible comes from PyPI's ``ansible`` package (it bundles openstack.cloud); the
modules run on this test's Python, which has openstacksdk. Skipped without
``ansible-playbook`` (found beside this Python, on PATH, or in $KUMO_ANSIBLE_PLAYBOOK).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from .vmhelpers import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PLAYBOOK = """
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ python }}"
  tasks:
    - openstack.cloud.network:
        cloud: kumo
        name: "{{ p }}-net"
        state: "{{ state }}"
      when: state == "present"
    - openstack.cloud.subnet:
        cloud: kumo
        name: "{{ p }}-sub"
        network: "{{ p }}-net"
        cidr: 10.93.0.0/24
        state: "{{ state }}"
      when: state == "present"
    - openstack.cloud.router:
        cloud: kumo
        name: "{{ p }}-router"
        network: public
        interfaces: ["{{ p }}-sub"]
        state: present
      when: state == "present"
    - openstack.cloud.security_group:
        cloud: kumo
        name: "{{ p }}-sg"
        description: web servers
        state: "{{ state }}"
      when: state == "present"
    - openstack.cloud.security_group_rule:
        cloud: kumo
        security_group: "{{ p }}-sg"
        protocol: tcp
        port_range_min: 80
        port_range_max: 80
        remote_ip_prefix: 0.0.0.0/0
        state: "{{ state }}"
    - openstack.cloud.server:
        cloud: kumo
        name: "{{ p }}-vm"
        image: kumo-tiny
        flavor: m1.nano
        network: "{{ p }}-net"
        security_groups: ["{{ p }}-sg"]
        auto_ip: false
        delete_ips: true
        wait: true
        timeout: 300
        state: "{{ state }}"
    - openstack.cloud.floating_ip:
        cloud: kumo
        server: "{{ p }}-vm"
        network: public
        wait: true
        state: present
      when: state == "present"
    - openstack.cloud.router:
        cloud: kumo
        name: "{{ p }}-router"
        state: absent
      when: state == "absent"
    - openstack.cloud.security_group:
        cloud: kumo
        name: "{{ p }}-sg"
        state: absent
      when: state == "absent"
"""


def playbook_binary() -> str | None:
    found = os.environ.get("KUMO_ANSIBLE_PLAYBOOK") or shutil.which(
        "ansible-playbook", path=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")
    return found


def recap(out: str) -> dict[str, int]:
    m = re.search(r"localhost\s*:\s*(.*)", out.split("PLAY RECAP", 1)[-1])
    assert m, out[-3000:]
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(1))}


def test_ansible_applied_twice_changes_nothing(cloud, tmp_path: Path) -> None:
    binary = playbook_binary()
    if binary is None:
        pytest.skip("ansible-playbook not installed (pip install ansible)")
    if "kumo-tiny" not in {i["Name"] for i in cloud.openstack("image", "list")}:
        pytest.skip("the session cloud has no kumo-tiny image")
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    # openstack.cloud 2.5 reads ``openstack.version`` without importing it, which
    # openstacksdk 4.x no longer imports on ``import openstack``: import it at start.
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(
        "try:\n    import openstack.version  # noqa: F401\nexcept ImportError:\n    pass\n")
    prefix = f"ans-{uuid.uuid4().hex[:6]}"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("OS_")},
           "OS_CLIENT_CONFIG_FILE": str(cloud.clouds_yaml), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_HOST_KEY_CHECKING": "0", "ANSIBLE_LOCALHOST_WARNING": "0",
           "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0", "PYTHONPATH": str(tmp_path / "site")}

    def play(state: str) -> dict[str, int]:
        p = subprocess.run([binary, "-i", "localhost,", str(tmp_path / "play.yml"),
                            "-e", f"p={prefix}", "-e", f"state={state}",
                            "-e", f"python={sys.executable}"],
                           capture_output=True, text=True, env=env, timeout=600)
        assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-2000:]
        return recap(p.stdout)

    try:
        first = play("present")
        assert first["changed"] == 7 and first["failed"] == 0, first
        second = play("present")
        assert second["changed"] == 0 and second["failed"] == 0, second
        server = cloud.openstack("server", "show", f"{prefix}-vm")
        port = cloud.openstack("port", "list", "--server", server["id"])[0]
        group = cloud.openstack("security", "group", "show", f"{prefix}-sg")
        assert cloud.openstack("port", "show", port["ID"])["security_group_ids"] == \
            [group["id"]]
        fips = cloud.openstack("floating", "ip", "list", "--port", port["ID"])
        assert len(fips) == 1 and fips[0]["Fixed IP Address"] == port["Fixed IP Addresses"][
            0]["ip_address"], fips
    finally:
        play("absent")
        wait_for("network deleted", lambda: cloud.openstack(
            "network", "delete", f"{prefix}-net", json_out=False, check=False
        ).returncode == 0, timeout=60)
