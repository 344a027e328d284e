"""Boot with one NIC: API → ACTIVE and API → DHCP lease acked, vs a bare QEMU.

Everything runs inside a network namespace this script creates (and deletes):
`kumo up` (QEMU driver, Linux bridge networking, dnsmasq) boots kumo-tiny N
times on a tenant network, one at a time; for each boot it records when the
server turned ACTIVE and when dnsmasq logged the DHCPACK for the port's MAC.
In the same run the same image boots N times on a bare QEMU command line with
the same devices and one tap on a bridge served by a bare dnsmasq (same static
host config), measured from exec to DHCPACK. The difference of the medians is
what kumo adds before the guest gets its address.
    .venv/bin/python bench/dhcp_boot_bench.py [--boots 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.conftest import LiveCloud, free_port  # noqa: E402
from tests.e2e.vmhelpers import admin_token  # noqa: E402


def acks(log_dir: Path, mac: str, what: str = "DHCPACK") -> int:
    n = 0
    for log in log_dir.glob("*.log"):
        try:
            text = log.read_text(errors="replace")
        except OSError:
            continue
        n += sum(1 for line in text.splitlines() if what in line and mac in line)
    return n


def acked(log_dir: Path, mac: str) -> bool:
    return acks(log_dir, mac) > 0


def _epoch(iso: str) -> float:
    return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


def phases(c: httpx.Client, project: str, sid: str, t0_wall: float) -> dict[str, float]:
    """Seconds from the API call to the end of each step the server's Events record
    (and to the start of QEMU's spawn): where kumo's time before the guest runs goes."""
    uid = c.get(f"/apis/kumo.io/v1/namespaces/{project}/servers/{sid}").json()[
        "metadata"]["uid"]
    evs = c.get(f"/apis/kumo.io/v1/namespaces/{project}/events",
                params={"labelSelector": f"involved-uid={uid}"}).json()["items"]
    out = {e["reason"]: _epoch(e["endTime"]) - t0_wall for e in evs}
    for e in evs:
        if e["reason"] == "Spawned":
            out["SpawnStart"] = _epoch(e["startTime"]) - t0_wall
    return out


BARE_DISCOVERS: list[int] = []
BARE_TO_DISCOVER: list[float] = []


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its reaped children (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def bare_boot(tiny, accel: str, workdir: Path, mac: str, tap: str, dhcp_dir: Path) -> float:
    """Seconds from exec to DHCPACK for a bare QEMU on a tap served by a bare dnsmasq."""
    disk = workdir / "bare.qcow2"
    disk.unlink(missing_ok=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b",
                    str(tiny.qcow2), str(disk)], check=True)
    before = acks(dhcp_dir, mac)  # the same MAC every time: wait for one more ACK
    discovers = acks(dhcp_dir, mac, "DHCPDISCOVER")
    t0 = time.perf_counter()
    p = subprocess.Popen(["qemu-system-x86_64", "-accel", accel, "-machine", "pc", "-m", "128",
                          "-smp", "1", "-nodefaults", "-display", "none", "-no-user-config",
                          "-kernel", str(tiny.kernel), "-initrd", str(tiny.ramdisk),
                          "-append", "console=ttyS0 quiet",
                          "-drive", f"file={disk},if=virtio,format=qcow2",
                          "-object", "rng-random,id=rng0,filename=/dev/urandom",
                          "-device", "virtio-rng-pci,rng=rng0",
                          "-netdev", f"tap,id=n0,ifname={tap},script=no,downscript=no",
                          "-device", f"virtio-net-pci,netdev=n0,mac={mac}",
                          "-serial", f"file:{workdir / 'bare-console.log'}"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        seen_discover = False
        while time.perf_counter() - t0 < 120:
            if not seen_discover and acks(dhcp_dir, mac, "DHCPDISCOVER") > discovers:
                seen_discover = True
                BARE_TO_DISCOVER.append(time.perf_counter() - t0)
            if acks(dhcp_dir, mac) > before:
                BARE_DISCOVERS.append(acks(dhcp_dir, mac, "DHCPDISCOVER") - discovers)
                return time.perf_counter() - t0
            time.sleep(0.01)
        raise RuntimeError("bare boot: no DHCPACK")
    finally:
        p.kill()
        p.wait()


async def bare_setup(work: Path, mac: str) -> tuple[str, Path, object]:
    from kumo.drivers.dnsmasq import DhcpHost, DhcpSubnet, Dnsmasq
    from kumo.drivers.linuxnet import LinuxNet

    net = LinuxNet()
    ns = f"kb-bdhcp-{os.getpid()}"
    tap = "bbtap0"
    net.ensure_bridge("benchbr0", 1450)
    net.ensure_veth_netns("bbdhcp0", "bbdhcpns0", ns, "benchbr0", 1450,
                          "fa:16:3e:99:00:02", ["10.249.0.2/24"])
    net.ensure_tap(tap, "benchbr0", 1450)
    d = work / "bare-dhcp"
    d.mkdir(parents=True, exist_ok=True)
    dm = Dnsmasq(str(uuid.uuid4()), ns, "bbdhcpns0", d)
    await dm.ensure([DhcpSubnet("s", "10.249.0.0/24", "10.249.0.1", (), (), 1450)],
                    [DhcpHost(mac, "10.249.0.10", "bare")], "10.249.0.2")
    return tap, dm.dir, (net, ns, dm)


def inside(args: argparse.Namespace) -> None:
    from kumo.drivers.accel import detect_accelerator
    from kumo.imagebuild import kumo_tiny

    tiny = kumo_tiny.ensure_built()
    accel = detect_accelerator()
    tmp = Path(tempfile.mkdtemp(prefix="kumo-dhcpboot-"))
    cloud = LiveCloud(tmp / "data", free_port(), args=["--driver", "qemu",
                                                      "--net-driver", "linux"])
    bare_mac = "fa:16:3e:99:00:10"
    tap, bare_dir, bare_state = asyncio.run(bare_setup(tmp, bare_mac))
    try:
        cloud.start(timeout=60)
        tok = admin_token(cloud.base_url, cloud.admin_password)
        c = httpx.Client(base_url=cloud.base_url, timeout=60, headers={
            "X-Auth-Token": tok, "OpenStack-API-Version": "compute 2.79"})
        while True:
            imgs = c.get("/image/v2/images", params={"name": "kumo-tiny"}).json()["images"]
            if imgs and imgs[0]["status"] == "active":
                break
            time.sleep(0.5)
        image_id = imgs[0]["id"]
        net = c.post("/network/v2.0/networks", json={"network": {"name": "bench"}}).json()
        nid = net["network"]["id"]
        c.post("/network/v2.0/subnets", json={"subnet": {
            "network_id": nid, "ip_version": 4, "cidr": "10.248.0.0/24"}}).raise_for_status()
        agent_dir = cloud.data_dir / "agent"
        while not (found := list(agent_dir.glob(f"*/dhcp/{nid}"))):
            time.sleep(0.1)  # DHCP for the network is up before the first boot
        dhcp_dir = found[0]  # its dnsmasq log only: polled as cheaply as the bare one
        to_active, to_ack, bare = [], [], []
        steps: dict[str, list[float]] = {}
        discovers: list[int] = []
        kumo_cpu: list[float] = []
        for i in range(args.boots):
            assert cloud.proc is not None
            cpu0 = cpu_seconds(cloud.proc.pid)
            t0_wall = time.time()
            t0 = time.perf_counter()
            r = c.post("/compute/v2.1/servers", json={"server": {
                "name": f"d{i}", "imageRef": image_id, "flavorRef": "42",
                "networks": [{"uuid": nid}]}})
            r.raise_for_status()
            sid = r.json()["server"]["id"]
            ports = c.get("/network/v2.0/ports", params={"device_id": sid}).json()["ports"]
            mac = ports[0]["mac_address"]
            t_active = t_ack = t_disc = None
            while t_active is None or t_ack is None:
                now = time.perf_counter() - t0
                if now > 180:
                    raise RuntimeError(f"boot {i}: active={t_active} ack={t_ack}")
                if t_active is None:
                    s = c.get(f"/compute/v2.1/servers/{sid}").json()["server"]
                    if s["status"] == "ERROR":
                        raise RuntimeError(s.get("fault"))
                    if s["status"] == "ACTIVE":
                        t_active = now
                if t_disc is None and acks(dhcp_dir, mac, "DHCPDISCOVER"):
                    t_disc = time.perf_counter() - t0
                if t_ack is None and acked(dhcp_dir, mac):
                    t_ack = time.perf_counter() - t0
                time.sleep(0.01)
            kumo_cpu.append(cpu_seconds(cloud.proc.pid) - cpu0)
            to_active.append(t_active)
            to_ack.append(t_ack)
            project = c.get(f"/compute/v2.1/servers/{sid}").json()["server"]["tenant_id"]
            for reason, at in phases(c, project, sid, t0_wall).items():
                steps.setdefault(reason, []).append(at)
            steps.setdefault("ACK after QEMU start", []).append(
                t_ack - steps.get("SpawnStart", [0.0])[-1])
            discovers.append(acks(dhcp_dir, mac, "DHCPDISCOVER"))
            if t_disc is not None:
                steps.setdefault("first DISCOVER after QEMU start", []).append(
                    t_disc - steps["SpawnStart"][-1])
                steps.setdefault("DISCOVER to ACK", []).append(t_ack - t_disc)
            c.delete(f"/compute/v2.1/servers/{sid}")
            bare.append(bare_boot(tiny, accel, tmp, bare_mac, tap, bare_dir))
        m_act, m_ack, m_bare = (statistics.median(x) for x in (to_active, to_ack, bare))
        print(f"accelerator: {accel}; {args.boots} boots of kumo-tiny (m1.nano, one NIC on a "
              f"tenant network), one at a time")
        print(f"  API -> ACTIVE p50 {m_act:.2f}s (max {max(to_active):.2f}s)")
        print(f"  API -> DHCPACK p50 {m_ack:.2f}s; bare qemu exec -> DHCPACK p50 {m_bare:.2f}s")
        print(f"  kumo overhead to the lease (p50 difference) {1000 * (m_ack - m_bare):.0f} ms "
              f"(goal < 300 ms); ratio {m_ack / m_bare:.2f}x")
        print(f"  CPU of the kumo process from the API call to the lease: p50 "
              f"{statistics.median(kumo_cpu):.2f} s (the TCG guest shares the machine)")
        if BARE_TO_DISCOVER:
            print(f"  bare: exec -> first DISCOVER p50 {statistics.median(BARE_TO_DISCOVER):.3f}"
                  f" s, DISCOVER -> ACK p50 "
                  f"{statistics.median(bare) - statistics.median(BARE_TO_DISCOVER):.3f} s")
        print(f"  DHCPDISCOVERs before the lease (1 = the first was answered): kumo "
              f"{discovers}, bare {BARE_DISCOVERS}")
        print("  where it goes, p50 seconds from the API call (server Events): " + ", ".join(
            f"{k} {statistics.median(v):.3f}" for k, v in sorted(
                steps.items(), key=lambda kv: statistics.median(kv[1]))))
    finally:
        cloud.stop()
        cloud.kill_vms()
        net_drv, ns, dm = bare_state  # type: ignore[misc]
        asyncio.run(dm.stop())
        subprocess.run(["ip", "netns", "delete", ns], check=False)
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--boots", type=int, default=10)
    args = ap.parse_args()
    if os.environ.get("KUMO_BENCH_IN_NS"):
        inside(args)
        return
    ns = f"kb-boot-{os.getpid()}"
    before = set(subprocess.run(["ip", "netns", "list"], capture_output=True,
                                text=True).stdout.split())
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        subprocess.run(["nsenter", f"--net=/run/netns/{ns}", "--", sys.executable, __file__,
                        "--boots", str(args.boots)], check=True,
                       env={**os.environ, "KUMO_BENCH_IN_NS": "1"})
    finally:
        after = subprocess.run(["ip", "netns", "list"], capture_output=True,
                               text=True).stdout.split()
        for name in after:
            if name.startswith("qdhcp-") and name not in before:
                for pid in subprocess.run(["ip", "netns", "pids", name], capture_output=True,
                                          text=True).stdout.split():
                    subprocess.run(["kill", "-9", pid], check=False)
                subprocess.run(["ip", "netns", "delete", name], check=False)
        subprocess.run(["ip", "netns", "delete", ns], check=False)


if __name__ == "__main__":
    main()
