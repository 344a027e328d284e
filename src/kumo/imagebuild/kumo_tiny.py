"""Build ``kumo-tiny``, a CirrOS-like test guest, from Debian packages.

No VM image can be downloaded in kumo's CI, so this assembles one from what
apt can fetch: Debian's cloud kernel (``linux-image-cloud-amd64``; downloaded
and unpacked, never installed) and busybox-static.  The result is

* ``vmlinuz`` + ``initramfs.gz`` for direct kernel boot (Glance aki/ari), and
* ``disk.qcow2``: an MBR disk with one FAT partition booted by syslinux that
  loads the same kernel and initramfs (the userland runs from RAM).

Builds are cached under a directory named after a digest of this recipe; a
build happens in a temporary directory that is renamed into place only when
complete, so a half-built image is never used.  Host tools needed (Debian
packages): apt, dpkg, dosfstools, mtools, syslinux, syslinux-common, qemu-utils
and (optionally) busybox-static.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.resources
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from . import initramfs
from .initramfs import BuildError, build_initramfs, is_static_elf, resolve_modules

#: Bump when the layout of the outputs changes (the source digest covers the rest).
FORMAT = 1
KERNEL_METAPACKAGE = "linux-image-cloud-amd64"
BUSYBOX_PACKAGE = "busybox-static"
#: Modules the guest needs; their dependencies are added and ordered from .modinfo.
WANTED_MODULES = ("virtio_pci", "virtio_mmio", "virtio_net", "virtio_blk", "button", "evdev")
#: Kernel command line for both boot paths.  ``quiet`` keeps the (slow, emulated)
#: serial console short; ``panic=-1`` turns a guest panic into a reboot, which
#: ``-no-reboot`` turns into a QEMU exit instead of a hang.
CMDLINE = "console=ttyS0,115200 quiet panic=-1"
DISK_MIB = 64
PART_START_SECTOR = 2048
SYSLINUX_MBR = Path("/usr/lib/syslinux/mbr/mbr.bin")
ENV_CACHE = "KUMO_IMAGE_CACHE"
#: Optional path to a kernel .deb for offline builds (skips apt).
ENV_KERNEL_DEB = "KUMO_TINY_KERNEL_DEB"

STAMP = "kumo-tiny.json"
KERNEL_NAME = "vmlinuz"
RAMDISK_NAME = "initramfs.gz"
DISK_NAME = "disk.qcow2"

# Which Debian package provides each host tool, for a helpful error.
_TOOLS = {
    "dpkg-deb": "dpkg",
    "mkfs.vfat": "dosfstools",
    "mcopy": "mtools",
    "syslinux": "syslinux",
    "qemu-img": "qemu-utils",
}


@dataclass(frozen=True)
class TinyImage:
    """Paths of one complete kumo-tiny build."""

    qcow2: Path
    kernel: Path
    ramdisk: Path
    version: str


def default_cache_dir() -> Path:
    """``$KUMO_IMAGE_CACHE`` or ``~/.cache/kumo/images``."""
    env = os.environ.get(ENV_CACHE)
    return Path(env) if env else Path.home() / ".cache" / "kumo" / "images"


def ensure_built(cache_dir: Path | None = None) -> TinyImage:
    """Return the cached build, building it first if there is none."""
    return build(cache_dir if cache_dir is not None else default_cache_dir())


def build(cache_dir: Path, force: bool = False) -> TinyImage:
    """Build kumo-tiny into ``cache_dir`` unless a build of this recipe is there.

    ``force`` rebuilds even then.  Concurrent callers serialise on a lock file;
    the finished build replaces the old one by rename.
    """
    cache_dir = Path(cache_dir).expanduser().absolute()
    recipe = recipe_digest()
    final = cache_dir / f"kumo-tiny-{recipe[:12]}"
    if not force and (img := _load(final, recipe)) is not None:
        return img
    cache_dir.mkdir(parents=True, exist_ok=True)
    with _locked(cache_dir / ".kumo-tiny.lock"):
        if not force and (img := _load(final, recipe)) is not None:
            return img  # another process built it while we waited
        _prune(cache_dir, keep=final)
        tmp = Path(tempfile.mkdtemp(prefix=".kumo-tiny-tmp-", dir=cache_dir))
        tmp.chmod(0o755)  # readable by e.g. a qemu user, unlike mkdtemp's 0700
        try:
            _build_into(tmp, cache_dir / "downloads", recipe)
            if final.exists():
                old = Path(tempfile.mkdtemp(prefix=".kumo-tiny-old-", dir=cache_dir))
                final.rename(old / "x")
                tmp.rename(final)
                shutil.rmtree(old, ignore_errors=True)
            else:
                tmp.rename(final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    img = _load(final, recipe)
    if img is None:  # pragma: no cover - would be a bug in _build_into
        raise BuildError(f"build finished but {final} is not a valid build")
    return img


def recipe_digest() -> str:
    """Digest of everything that shapes the image: this builder and the init script."""
    h = hashlib.sha256()
    h.update(f"format={FORMAT}\n".encode())
    h.update(Path(__file__).read_bytes())
    h.update(Path(initramfs.__file__).read_bytes())
    h.update(_init_script())
    return h.hexdigest()


def _init_script() -> bytes:
    return importlib.resources.files("kumo.imagebuild").joinpath("init.sh").read_bytes()


def _load(final: Path, recipe: str) -> TinyImage | None:
    """The build in ``final`` if its stamp matches ``recipe`` and all outputs exist."""
    try:
        meta = json.loads((final / STAMP).read_text())
    except (OSError, ValueError):
        return None
    if meta.get("recipe") != recipe:
        return None
    img = TinyImage(
        qcow2=final / DISK_NAME,
        kernel=final / KERNEL_NAME,
        ramdisk=final / RAMDISK_NAME,
        version=str(meta.get("version", "")),
    )
    if not all(p.is_file() for p in (img.qcow2, img.kernel, img.ramdisk)):
        return None
    return img


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _prune(cache_dir: Path, keep: Path) -> None:
    """Drop builds of older recipes and leftovers of interrupted builds (lock held)."""
    for p in cache_dir.iterdir():
        if p == keep or not p.is_dir():
            continue
        if p.name.startswith(("kumo-tiny-", ".kumo-tiny-tmp-", ".kumo-tiny-old-")):
            shutil.rmtree(p, ignore_errors=True)


def _run(argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Run a tool, raising BuildError with its stderr on failure."""
    try:
        res = subprocess.run(  # noqa: S603 - argv list, no shell
            argv,
            cwd=cwd,
            env=env,
            check=False,
            capture_output=True,
            text=True,
            timeout=300,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BuildError(f"{argv[0]}: {exc}") from exc
    if res.returncode != 0:
        raise BuildError(f"{' '.join(argv)} failed ({res.returncode}): {res.stderr.strip()}")
    return res.stdout


def _check_tools() -> None:
    missing = sorted({pkg for tool, pkg in _TOOLS.items() if shutil.which(tool) is None})
    if not SYSLINUX_MBR.is_file():
        missing.append("syslinux-common")
    if missing:
        raise BuildError("missing host tools; apt-get install " + " ".join(missing))


# --- inputs -----------------------------------------------------------------


def _fetch_deb(package: str, downloads: Path) -> Path:
    """``apt-get download`` a package into ``downloads``, reusing a verified copy."""
    if shutil.which("apt-get") is None:
        raise BuildError(f"apt-get not found; cannot download {package}")
    out = _run(["apt-get", "download", "--print-uris", package])
    m = re.search(r"'\S+'\s+(\S+\.deb)\s+\d+\s+SHA256:([0-9a-f]{64})", out)
    if m is None:
        raise BuildError(f"apt-get cannot locate {package} (run apt-get update?): {out!r}")
    name, sha256 = m.group(1), m.group(2)
    downloads.mkdir(parents=True, exist_ok=True)
    deb = downloads / name
    if deb.is_file() and _sha256(deb) == sha256:
        return deb
    with tempfile.TemporaryDirectory(dir=downloads) as tmp:
        _run(["apt-get", "download", package], cwd=Path(tmp))
        got = list(Path(tmp).glob("*.deb"))
        if len(got) != 1 or _sha256(got[0]) != sha256:
            raise BuildError(f"apt-get download {package} gave {got}")
        got[0].replace(deb)
    return deb


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _kernel_deb(downloads: Path) -> Path:
    """The versioned kernel package the cloud metapackage currently depends on."""
    if override := os.environ.get(ENV_KERNEL_DEB):
        return Path(override)
    out = _run(["apt-cache", "depends", KERNEL_METAPACKAGE])
    m = re.search(r"Depends:\s*(linux-image-\S+-cloud-amd64)", out)
    if m is None:
        raise BuildError(f"cannot resolve {KERNEL_METAPACKAGE} (run apt-get update?)")
    return _fetch_deb(m.group(1), downloads)


def _busybox(work: Path, downloads: Path) -> Path:
    """A statically linked busybox: the host's busybox-static, else downloaded."""
    for cand in (Path("/bin/busybox"), Path("/usr/bin/busybox")):
        if cand.is_file() and is_static_elf(cand.read_bytes()):
            return cand
    deb = _fetch_deb(BUSYBOX_PACKAGE, downloads)
    _run(["dpkg-deb", "-x", str(deb), str(work / "busybox")])
    for cand in (work / "busybox/bin/busybox", work / "busybox/usr/bin/busybox"):
        if cand.is_file():
            return cand
    raise BuildError(f"{deb} has no bin/busybox")


def _mbr(boot_code: bytes, start: int, sectors: int) -> bytes:
    """An MBR with syslinux's boot code and one active FAT16 (LBA) partition."""
    chs = b"\xfe\xff\xff"  # LBA only; CHS fields saturated as tools do for big disks
    entry = b"\x80" + chs + b"\x0e" + chs + struct.pack("<II", start, sectors)
    mbr = boot_code[:440].ljust(440, b"\0") + b"KUMO" + b"\0\0" + entry
    return mbr.ljust(510, b"\0") + b"\x55\xaa"


def _disk(work: Path, kernel: Path, ramdisk: Path, out: Path) -> None:
    """A BIOS-bootable qcow2: MBR + FAT partition with syslinux, kernel and initramfs."""
    env = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}
    part = work / "part.img"
    part_sectors = DISK_MIB * 2048 - PART_START_SECTOR
    _run(["mkfs.vfat", "-C", "-F", "16", "-n", "KUMOTINY", "-h", str(PART_START_SECTOR),
          str(part), str(part_sectors // 2)], env=env)  # fmt: skip
    cfg = work / "syslinux.cfg"
    cfg.write_text(
        "SERIAL 0 115200\nDEFAULT kumo\nPROMPT 0\nTIMEOUT 0\n"
        f"LABEL kumo\n  KERNEL /vmlinuz\n  INITRD /initrd.gz\n  APPEND {CMDLINE}\n"
    )
    shutil.copyfile(ramdisk, work / "initrd.gz")
    shutil.copyfile(kernel, work / "vmlinuz")
    _run(["mcopy", "-i", str(part), "-o", str(work / "vmlinuz"), str(work / "initrd.gz"),
          str(cfg), "::/"], env=env)  # fmt: skip
    _run(["syslinux", "--install", str(part)], env=env)
    raw = work / "disk.raw"
    with open(raw, "wb") as dst, open(part, "rb") as src:
        dst.write(_mbr(SYSLINUX_MBR.read_bytes(), PART_START_SECTOR, part_sectors))
        dst.truncate(DISK_MIB << 20)
        dst.seek(PART_START_SECTOR * 512)
        while chunk := src.read(1 << 20):
            if chunk.count(0) == len(chunk):
                dst.seek(len(chunk), os.SEEK_CUR)  # keep the raw file sparse
            else:
                dst.write(chunk)
    _run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(out)])
    raw.unlink()
    part.unlink()


def _build_into(out: Path, downloads: Path, recipe: str) -> None:
    """Produce every output plus the stamp (written last) in ``out``."""
    _check_tools()
    started = time.monotonic()
    work = out / "work"
    work.mkdir()
    deb = _kernel_deb(downloads)
    _run(["dpkg-deb", "-x", str(deb), str(work / "kernel")])
    releases = sorted(p.name for p in (work / "kernel/lib/modules").iterdir())
    if len(releases) != 1:
        raise BuildError(f"{deb}: expected one kernel release, found {releases}")
    release = releases[0]
    vmlinuz = work / "kernel/boot" / f"vmlinuz-{release}"
    modules = resolve_modules(work / "kernel/lib/modules" / release, WANTED_MODULES)
    busybox = _busybox(work, downloads)
    bb_version = _run([str(busybox), "--help"]).splitlines()[0].strip()
    version = f"kumo-tiny-{recipe[:12]}+{release}"

    shutil.copyfile(vmlinuz, out / KERNEL_NAME)
    applets = _run([str(busybox), "--list-full"]).split()
    (out / RAMDISK_NAME).write_bytes(build_initramfs(busybox, applets, _init_script(), modules,
                                                     version))
    _disk(work, out / KERNEL_NAME, out / RAMDISK_NAME, out / DISK_NAME)
    shutil.rmtree(work)
    stamp = {
        "recipe": recipe,
        "version": version,
        "kernel_release": release,
        "kernel_deb": deb.name,
        "busybox": bb_version,
        "modules": [n for n, _ in modules],
        "cmdline": CMDLINE,
        "built_at": time.time(),
        "build_seconds": round(time.monotonic() - started, 2),
    }
    tmp = out / (STAMP + ".tmp")
    tmp.write_text(json.dumps(stamp, indent=2) + "\n")
    tmp.replace(out / STAMP)
