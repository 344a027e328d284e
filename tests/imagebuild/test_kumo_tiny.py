"""kumo-tiny: build it into a temporary cache and really boot it under TCG.

The network test runs the guest inside a network namespace created here (bridge,
tap, dnsmasq, a metadata server on 169.254.169.254): packets never leave it.
User-mode networking (slirp) is never used.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kumo.imagebuild import CMDLINE, TinyImage, build, initramfs
from kumo.imagebuild import kumo_tiny as kt

BOOT_TIMEOUT = 60.0
BUILD_TOOLS = ("apt-get", "dpkg-deb", "mkfs.vfat", "mcopy", "syslinux", "qemu-img")


def _missing(tools: tuple[str, ...]) -> list[str]:
    return [t for t in tools if shutil.which(t) is None]


needs_build_tools = pytest.mark.skipif(
    bool(_missing(BUILD_TOOLS)) or not kt.SYSLINUX_MBR.is_file(),
    reason=f"building kumo-tiny needs {', '.join(BUILD_TOOLS)} and syslinux-common "
    "(apt-get install dosfstools mtools syslinux syslinux-common qemu-utils)",
)
needs_qemu = pytest.mark.skipif(
    shutil.which("qemu-system-x86_64") is None,
    reason="booting kumo-tiny needs qemu-system-x86_64 (apt-get install qemu-system-x86)",
)
needs_netns = pytest.mark.skipif(
    os.geteuid() != 0 or bool(_missing(("ip", "dnsmasq"))) or not Path("/dev/net/tun").exists(),
    reason="the network test needs root, iproute2, dnsmasq and /dev/net/tun",
)


# --- pure unit tests ------------------------------------------------------------


def test_cpio_newc_layout() -> None:
    cpio = initramfs.Cpio()
    cpio.file("init", b"#!/bin/sh\n", 0o755)
    cpio.chardev("dev/console", 5, 1)
    data = cpio.finish()
    assert data.startswith(b"070701")
    assert len(data) % 4 == 0
    assert b"init\0" in data and data.rstrip(b"\0").endswith(b"TRAILER!!!")


def test_mbr_has_one_active_partition() -> None:
    mbr = kt._mbr(b"\xeb" * 440, 2048, 129024)
    assert len(mbr) == 512 and mbr[510:] == b"\x55\xaa"
    entry = mbr[446:462]
    assert entry[0] == 0x80 and entry[4] == 0x0E
    assert int.from_bytes(entry[8:12], "little") == 2048
    assert int.from_bytes(entry[12:16], "little") == 129024


def test_init_script_parses() -> None:
    busybox = shutil.which("busybox") or shutil.which("sh")
    assert busybox
    argv = [busybox, "sh", "-n", "-"] if busybox.endswith("busybox") else [busybox, "-n", "-"]
    res = subprocess.run(argv, input=kt._init_script(), capture_output=True, check=False)  # noqa: S603
    assert res.returncode == 0, res.stderr


# --- build --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> TinyImage:
    if _missing(BUILD_TOOLS) or not kt.SYSLINUX_MBR.is_file():
        pytest.skip("building kumo-tiny needs dosfstools, mtools, syslinux, qemu-utils, apt")
    return build(tmp_path_factory.mktemp("kumo-images"))


@needs_build_tools
def test_build_outputs(tiny: TinyImage) -> None:
    info = json.loads(
        subprocess.run(  # noqa: S603
            ["qemu-img", "info", "--output=json", str(tiny.qcow2)],
            capture_output=True,
            check=True,
            text=True,
        ).stdout
    )
    assert info["format"] == "qcow2"
    assert info["virtual-size"] == kt.DISK_MIB << 20
    assert tiny.kernel.read_bytes()[0x202:0x206] == b"HdrS"  # x86 bzImage boot header
    assert tiny.ramdisk.read_bytes()[:2] == b"\x1f\x8b"
    stamp = json.loads((tiny.qcow2.parent / kt.STAMP).read_text())
    assert stamp["version"] == tiny.version and stamp["cmdline"] == CMDLINE
    assert stamp["modules"][-3:] == ["virtio_blk", "button", "evdev"]


@needs_build_tools
def test_initramfs_contents(tiny: TinyImage) -> None:
    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.skip("listing the initramfs needs busybox")
    import gzip

    listing = subprocess.run(  # noqa: S603
        [busybox, "cpio", "-t"],
        input=gzip.decompress(tiny.ramdisk.read_bytes()),
        capture_output=True,
        check=True,
    ).stdout.decode()
    names = set(listing.split())
    for want in ("init", "bin/busybox", "bin/sh", "sbin/udhcpc", "dev/console",
                 "lib/modules/virtio_net.ko", "lib/modules/load-order"):  # fmt: skip
        assert want in names, want


@needs_build_tools
def test_build_is_cached_and_force_rebuilds(tiny: TinyImage) -> None:
    cache = tiny.qcow2.parent.parent
    before = tiny.qcow2.stat().st_ino
    t0 = time.monotonic()
    again = build(cache)
    assert again == tiny and time.monotonic() - t0 < 1.0
    assert tiny.qcow2.stat().st_ino == before
    rebuilt = build(cache, force=True)
    assert rebuilt == tiny  # same paths and version ...
    assert rebuilt.qcow2.stat().st_ino != before  # ... but freshly built files
    assert not [p for p in cache.iterdir() if p.name.startswith(".kumo-tiny-")]


@needs_build_tools
def test_stale_stamp_is_not_used(tmp_path: Path, tiny: TinyImage) -> None:
    fake = tmp_path / f"kumo-tiny-{kt.recipe_digest()[:12]}"
    fake.mkdir()
    (fake / kt.STAMP).write_text(json.dumps({"recipe": "something-else"}))
    assert kt._load(fake, kt.recipe_digest()) is None
    (fake / kt.STAMP).write_text(json.dumps({"recipe": kt.recipe_digest()}))
    assert kt._load(fake, kt.recipe_digest()) is None  # outputs missing: half a build


# --- booting ---------------------------------------------------------------------------


class Guest:
    """A QEMU process whose serial console is a socket we read (and can type into)."""

    def __init__(self, workdir: Path, args: list[str], netns: str | None = None) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.console_path = workdir / "console.sock"
        self.qmp_path = workdir / "qmp.sock"
        self.log_path = workdir / "console.log"
        argv = [
            "qemu-system-x86_64", "-accel", "tcg", "-m", "128", "-nodefaults",
            "-display", "none", "-no-reboot",
            "-chardev", f"socket,id=con0,path={self.console_path},server=on,wait=on",
            "-serial", "chardev:con0",
            "-qmp", f"unix:{self.qmp_path},server=on,wait=off",
            *args,
        ]  # fmt: skip
        if netns:
            argv = ["ip", "netns", "exec", netns, *argv]
        self.buf = bytearray()
        self.lock = threading.Lock()
        self.started = time.monotonic()
        self.proc = subprocess.Popen(  # noqa: S603
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        self.sock = socket.socket(socket.AF_UNIX)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.sock.connect(str(self.console_path))
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    out = self.proc.stdout.read().decode() if self.proc.stdout else ""
                    self.close()
                    raise RuntimeError(f"qemu did not start: {out}") from None
                time.sleep(0.02)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        with open(self.log_path, "wb") as log:
            while True:
                try:
                    data = self.sock.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                log.write(data)
                log.flush()
                with self.lock:
                    self.buf += data

    @property
    def console(self) -> str:
        with self.lock:
            return self.buf.decode(errors="replace")

    def wait_for(self, pattern: str, timeout: float = BOOT_TIMEOUT) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if m := re.search(pattern, self.console):
                return m
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no {pattern!r} on the console; it shows:\n{self.console[-3000:]}")

    def type(self, text: str) -> None:
        self.sock.sendall(text.encode())

    def qmp(self, command: str) -> None:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(str(self.qmp_path))
            f = s.makefile("rwb")
            f.readline()  # greeting
            for cmd in ("qmp_capabilities", command):
                f.write(json.dumps({"execute": cmd}).encode() + b"\n")
                f.flush()
                while "return" not in (reply := json.loads(f.readline())):
                    if "error" in reply:
                        raise RuntimeError(reply)

    def wait_exit(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        self.sock.close()


@pytest.fixture
def guests() -> Iterator[list[Guest]]:
    started: list[Guest] = []
    yield started
    for g in started:
        g.close()


MARKER = r"kumo-tiny booted (\S+) (\S+)\r?\n"


@needs_build_tools
@needs_qemu
def test_direct_kernel_boot_without_nic(
    tiny: TinyImage, tmp_path: Path, guests: list[Guest]
) -> None:
    g = Guest(tmp_path / "direct", ["-nic", "none", "-kernel", str(tiny.kernel),
              "-initrd", str(tiny.ramdisk), "-append", CMDLINE])  # fmt: skip
    guests.append(g)
    m = g.wait_for(MARKER)
    print(f"direct kernel boot: marker after {time.monotonic() - g.started:.2f}s")
    assert m.groups() == ("kumo-tiny", "none")
    # ACPI power button -> acpid -> clean poweroff -> QEMU exits.
    g.wait_for(r"# ", 10)
    g.qmp("system_powerdown")
    assert g.wait_exit(20) is not None, g.console[-2000:]
    assert "reboot: Power down" in g.console or "Requesting system poweroff" in g.console


@needs_build_tools
@needs_qemu
def test_disk_boot_without_nic(tiny: TinyImage, tmp_path: Path, guests: list[Guest]) -> None:
    disk = f"file={tiny.qcow2},if=virtio,format=qcow2,snapshot=on"
    g = Guest(tmp_path / "disk", ["-nic", "none", "-drive", disk])
    guests.append(g)
    m = g.wait_for(MARKER)
    print(f"disk boot: marker after {time.monotonic() - g.started:.2f}s")
    assert m.groups() == ("kumo-tiny", "none")
    # The console has a shell; a clean poweroff ends QEMU.
    g.wait_for(r"# ", 10)
    g.type("echo shell-$((6*7)) && ls /sys/block\n")
    g.wait_for(r"shell-42\s+vda", 10)
    g.type("poweroff\n")
    assert g.wait_exit(20) is not None, g.console[-2000:]


# --- network: a namespace with a bridge, dnsmasq and a metadata server -------------------


def _ns(ns: str, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        ["ip", "netns", "exec", ns, *argv], capture_output=True, text=True, check=check, timeout=30
    )


class TestNet:
    """Fixed-lease DHCP on 10.99.0.0/24 inside a private namespace."""

    SUBNET_GW = "10.99.0.1"
    VM1 = ("52:54:00:99:00:10", "10.99.0.10", "vm1")  # DHCP only, no metadata route
    VM2 = ("52:54:00:99:00:11", "10.99.0.11", "vm2")  # gets a route to the metadata server
    MTU = 1400

    @pytest.fixture(scope="class")
    @classmethod
    def netns(cls, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
        ns = f"kumo-t-{uuid.uuid4().hex[:8]}"
        work = tmp_path_factory.mktemp("netns")
        procs: list[subprocess.Popen[bytes]] = []
        subprocess.run(["ip", "netns", "add", ns], check=True)  # noqa: S603
        try:
            for cmd in (
                "link set lo up",
                "link add br0 type bridge",
                f"addr add {cls.SUBNET_GW}/24 dev br0",
                "addr add 169.254.169.254/32 dev br0",
                "link set br0 up",
                "tuntap add dev tap1 mode tap",
                "tuntap add dev tap2 mode tap",
                "link set tap1 master br0 up",
                "link set tap2 master br0 up",
            ):
                subprocess.run(["ip", "-n", ns, *cmd.split()], check=True)  # noqa: S603
            md = work / "md" / "openstack" / "latest"
            md.mkdir(parents=True)
            (md / "meta_data.json").write_text(
                json.dumps(
                    {
                        "uuid": str(uuid.uuid4()),
                        "name": "md-host",
                        "hostname": "md-host",
                        "public_keys": {"k1": "ssh-ed25519 AAAAC3Nza/test k1@kumo\n"},
                    }
                )
            )
            (md / "user_data").write_text(
                "#!/bin/sh\n"
                'echo "userdata-ran mtu=$(cat /sys/class/net/eth0/mtu)"\n'
                'echo "userdata-key $(cat /root/.ssh/authorized_keys)"\n'
                'echo "userdata-route $(ip route | grep -c 169.254.169.254)"\n'
            )
            dnsmasq = [
                "dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0",
                "--bind-interfaces", "--interface=br0", "--user=root",
                f"--dhcp-leasefile={work / 'leases'}", f"--pid-file={work / 'dnsmasq.pid'}",
                "--dhcp-range=10.99.0.0,static,255.255.255.0,5m",
                f"--dhcp-host={cls.VM1[0]},{cls.VM1[1]},{cls.VM1[2]}",
                f"--dhcp-host={cls.VM2[0]},{cls.VM2[1]},{cls.VM2[2]},set:md",
                "--dhcp-option=3",  # no router: nothing routes beyond the namespace
                f"--dhcp-option=option:mtu,{cls.MTU}",
                f"--dhcp-option=tag:md,option:classless-static-route,169.254.169.254/32,{cls.SUBNET_GW}",
            ]  # fmt: skip
            metadata = [sys.executable, "-m", "http.server", "80", "--bind", "169.254.169.254",
                        "--directory", str(work / "md")]  # fmt: skip
            for argv, log in ((dnsmasq, "dnsmasq.log"), (metadata, "metadata.log")):
                with open(work / log, "wb") as out:
                    procs.append(
                        subprocess.Popen(  # noqa: S603
                            ["ip", "netns", "exec", ns, *argv], stdout=out, stderr=subprocess.STDOUT
                        )
                    )
            yield ns, work
        finally:
            for p in procs:
                p.kill()
                p.wait()
            # Anything else still in the namespace was started by these tests.
            pids = subprocess.run(  # noqa: S603
                ["ip", "netns", "pids", ns], capture_output=True, text=True, check=False
            ).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), 9)
                except (ProcessLookupError, ValueError):
                    pass
            subprocess.run(["ip", "netns", "del", ns], check=False)  # noqa: S603
            shutil.rmtree(work, ignore_errors=True)

    def _boot(self, tiny: TinyImage, ns: str, work: Path, tap: str, mac: str) -> Guest:
        return Guest(
            work / tap,
            [
                "-kernel", str(tiny.kernel), "-initrd", str(tiny.ramdisk), "-append", CMDLINE,
                "-netdev", f"tap,id=n0,ifname={tap},script=no,downscript=no",
                "-device", f"virtio-net-pci,netdev=n0,mac={mac}",
            ],
            netns=ns,
        )  # fmt: skip

    def _http(self, ns: str, url: str) -> str:
        code = f"import urllib.request; print(urllib.request.urlopen({url!r}, timeout=5).read().decode())"
        return _ns(ns, sys.executable, "-c", code).stdout

    @needs_build_tools
    @needs_qemu
    @needs_netns
    def test_dhcp_hostname_and_http(
        self, tiny: TinyImage, netns: tuple[str, Path], guests: list[Guest]
    ) -> None:
        ns, work = netns
        mac, ip, name = self.VM1
        g = self._boot(tiny, ns, work, "tap1", mac)
        guests.append(g)
        m = g.wait_for(MARKER)
        print(f"network boot (dhcp): marker after {time.monotonic() - g.started:.2f}s")
        assert m.groups() == (name, ip)
        assert self._http(ns, f"http://{ip}/").strip() == f"kumo-tiny {name}"

    @needs_build_tools
    @needs_qemu
    @needs_netns
    def test_metadata_userdata_mtu_and_static_route(
        self, tiny: TinyImage, netns: tuple[str, Path], guests: list[Guest]
    ) -> None:
        ns, work = netns
        mac, ip, _ = self.VM2
        g = self._boot(tiny, ns, work, "tap2", mac)
        guests.append(g)
        m = g.wait_for(MARKER)
        print(f"network boot (metadata): marker after {time.monotonic() - g.started:.2f}s")
        assert m.groups() == ("md-host", ip)  # metadata wins over the DHCP name
        out = g.console
        assert f"userdata-ran mtu={self.MTU}" in out
        assert "userdata-key ssh-ed25519 AAAAC3Nza/test k1@kumo" in out
        assert "userdata-route 1" in out
        assert out.index("userdata-ran") < out.index("kumo-tiny booted")
        assert self._http(ns, f"http://{ip}/").strip() == "kumo-tiny md-host"
