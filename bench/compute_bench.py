"""Boot benchmark: kumo API → ACTIVE and → boot marker vs a bare qemu command.

Runs `kumo up` (QEMU driver) on a free loopback port, boots kumo-tiny N times
(`--nic none`), and in the same run boots the same image with a bare
`qemu-system-x86_64` command line to the same console marker. kumo's overhead
is the difference of the marker times. Also prints RSS of `kumo up` with 10
running VMs (VMs' own memory excluded: QEMU is a separate process).
    .venv/bin/python bench/compute_bench.py [--boots 10]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.conftest import LiveCloud, free_port  # noqa: E402
from tests.e2e.vmhelpers import BOOT_MARKER, admin_token  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def bare_boot(tiny, accel: str, workdir: Path) -> float:
    """Seconds from exec to the marker on a bare QEMU with the same image and kernel."""
    disk = workdir / "bare.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b",
                    str(tiny.qcow2), str(disk)], check=True)
    log = workdir / "bare.log"
    log.unlink(missing_ok=True)
    t0 = time.perf_counter()
    p = subprocess.Popen(["qemu-system-x86_64", "-accel", accel, "-machine", "pc", "-m", "128",
                          "-smp", "1", "-nodefaults", "-display", "none", "-no-user-config",
                          "-kernel", str(tiny.kernel), "-initrd", str(tiny.ramdisk),
                          "-append", "console=ttyS0 quiet",
                          "-drive", f"file={disk},if=virtio,format=qcow2",
                          "-object", "rng-random,id=rng0,filename=/dev/urandom",
                          "-device", "virtio-rng-pci,rng=rng0",  # same devices as kumo's
                          "-serial", f"file:{log}"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - t0 < 120:
            if log.exists() and BOOT_MARKER in log.read_text(errors="replace"):
                return time.perf_counter() - t0
            time.sleep(0.02)
        raise RuntimeError("bare boot timed out")
    finally:
        p.kill()
        p.wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--boots", type=int, default=10)
    args = ap.parse_args()
    from kumo.drivers.accel import detect_accelerator
    from kumo.imagebuild import kumo_tiny

    tiny = kumo_tiny.ensure_built()
    accel = detect_accelerator()
    tmp = Path(tempfile.mkdtemp(prefix="kumo-boot-"))
    cloud = LiveCloud(tmp / "data", free_port(), args=["--driver", "qemu"])
    try:
        cloud.start()
        tok = admin_token(cloud.base_url, cloud.admin_password)
        c = httpx.Client(base_url=cloud.base_url, timeout=60, headers={
            "X-Auth-Token": tok, "OpenStack-API-Version": "compute 2.79"})
        while True:
            imgs = c.get("/image/v2/images", params={"name": "kumo-tiny"}).json()["images"]
            if imgs and imgs[0]["status"] == "active":
                break
            time.sleep(1)
        image_id = imgs[0]["id"]
        to_active, to_marker, bare = [], [], []
        ids = []
        for i in range(args.boots):
            t0 = time.perf_counter()
            r = c.post("/compute/v2.1/servers", json={"server": {
                "name": f"b{i}", "imageRef": image_id, "flavorRef": "42", "networks": "none"}})
            sid = r.json()["server"]["id"]
            ids.append(sid)
            t_active = None
            while True:
                s = c.get(f"/compute/v2.1/servers/{sid}").json()["server"]
                if s["status"] == "ACTIVE" and t_active is None:
                    t_active = time.perf_counter() - t0
                if s["status"] == "ERROR":
                    raise RuntimeError(s.get("fault"))
                if t_active is not None:
                    out = c.post(f"/compute/v2.1/servers/{sid}/action",
                                 json={"os-getConsoleOutput": {"length": 50}})
                    if out.status_code == 200 and BOOT_MARKER in out.json()["output"]:
                        to_marker.append(time.perf_counter() - t0)
                        break
                time.sleep(0.02)
            to_active.append(t_active)
            bare.append(bare_boot(tiny, accel, tmp))
        assert cloud.proc is not None
        rss_vms = rss_mb(cloud.proc.pid)
        for sid in ids:
            c.delete(f"/compute/v2.1/servers/{sid}")
        m_act, m_mark, m_bare = (statistics.median(x) for x in (to_active, to_marker, bare))
        print(f"accelerator: {accel}; {args.boots} boots of kumo-tiny (m1.nano, --nic none)")
        print(f"  API -> ACTIVE p50 {m_act:.2f}s (goal < 1 s; Rally/OpenStack 8-9 s)")
        print(f"  API -> boot marker p50 {m_mark:.2f}s; bare qemu -> marker p50 {m_bare:.2f}s")
        print(f"  kumo overhead (marker p50 difference) {1000 * (m_mark - m_bare):.0f} ms "
              f"(goal < 300 ms); ratio {m_mark / m_bare:.2f}x")
        print(f"  RSS of kumo up with {len(ids)} running VMs: {rss_vms:.0f} MB (QEMU excluded)")
    finally:
        cloud.stop()
        cloud.kill_vms()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
