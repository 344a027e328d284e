"""The initramfs of kumo-tiny: kernel modules resolved from Debian's kernel package (ELF
``.modinfo`` read directly, dependencies followed) and a newc cpio archive written in
Python, so no initramfs-tools or root privileges are needed."""

from __future__ import annotations

import gzip
import lzma
import stat
import struct
from pathlib import Path


class BuildError(RuntimeError):
    """The image could not be built (missing tool, apt failure, bad input)."""


def elf_sections(data: bytes) -> dict[bytes, bytes]:
    """Section name -> contents of a little-endian ELF64 file."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise BuildError("not a little-endian ELF64 file")
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)

    def header(i: int) -> tuple[int, ...]:
        return struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)

    stroff = header(shstrndx)[4]
    sections = {}
    for i in range(shnum):
        name_off, _type, _flags, _addr, off, size = header(i)[:6]
        start = stroff + name_off
        sections[data[start : data.index(b"\0", start)]] = data[off : off + size]
    return sections


def is_static_elf(data: bytes) -> bool:
    """True for an ELF64 executable without a PT_INTERP (dynamic loader) header."""
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return False
    phoff = struct.unpack_from("<Q", data, 0x20)[0]
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    return all(struct.unpack_from("<I", data, phoff + i * phentsize)[0] != 3 for i in range(phnum))


def modinfo(data: bytes) -> dict[str, str]:
    blob = elf_sections(data).get(b".modinfo", b"")
    info: dict[str, str] = {}
    for entry in blob.split(b"\0"):
        key, sep, value = entry.decode(errors="replace").partition("=")
        if sep and key not in info:
            info[key] = value
    return info


def read_module(path: Path) -> bytes:
    """Module bytes, decompressing .ko.xz (busybox insmod wants plain ELF)."""
    if path.name.endswith(".ko.xz"):
        return lzma.decompress(path.read_bytes())
    return path.read_bytes()


def resolve_modules(moddir: Path, wanted: tuple[str, ...]) -> list[tuple[str, bytes]]:
    """``wanted`` plus dependencies, in load order (dependencies first)."""
    index: dict[str, Path] = {}
    for p in moddir.rglob("*.ko*"):
        if p.name.endswith((".ko", ".ko.xz")):
            index[p.name.split(".ko")[0].replace("-", "_")] = p
    ordered: list[tuple[str, bytes]] = []
    seen: set[str] = set()

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if name in seen:
            return
        if name in chain:
            raise BuildError(f"module dependency cycle: {' -> '.join((*chain, name))}")
        if name not in index:
            raise BuildError(f"kernel has no module {name} (built in or missing?)")
        data = read_module(index[name])
        for dep in filter(None, modinfo(data).get("depends", "").split(",")):
            visit(dep.replace("-", "_"), (*chain, name))
        seen.add(name)
        ordered.append((name, data))

    for name in wanted:
        visit(name, ())
    return ordered


# --- initramfs ----------------------------------------------------------------


class Cpio:
    """Minimal writer for the newc cpio format the kernel unpacks as initramfs.

    Written here (not GNU cpio) so device nodes and ownership need no root and
    the archive is reproducible (fixed mtime, uid 0).
    """

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.ino = 1

    def _add(self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)) -> None:
        fields = (self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, *rdev, len(name) + 1, 0)
        self.ino += 1
        head = b"070701" + "".join(f"{v:08X}" for v in fields).encode() + name.encode() + b"\0"
        self.parts += [head, b"\0" * (-len(head) % 4), data, b"\0" * (-len(data) % 4)]

    def dir(self, name: str) -> None:
        self._add(name, stat.S_IFDIR | 0o755)

    def file(self, name: str, data: bytes, perm: int = 0o644) -> None:
        self._add(name, stat.S_IFREG | perm, data)

    def symlink(self, name: str, target: str) -> None:
        self._add(name, stat.S_IFLNK | 0o777, target.encode())

    def chardev(self, name: str, major: int, minor: int, perm: int = 0o600) -> None:
        self._add(name, stat.S_IFCHR | perm, rdev=(major, minor))

    def finish(self) -> bytes:
        self._add("TRAILER!!!", 0)
        return b"".join(self.parts)


def build_initramfs(busybox: Path, applets: list[str], init: bytes,
                    modules: list[tuple[str, bytes]], release: str) -> bytes:
    """The gzipped cpio: busybox and its applet links, /init, the modules, a few files."""
    cpio = Cpio()
    for d in (
        "bin", "sbin", "usr", "usr/bin", "usr/sbin", "dev", "proc", "sys", "run",
        "etc", "root", "var", "var/www", "lib", "lib/modules",
    ):  # fmt: skip
        cpio.dir(d)
    cpio._add("tmp", stat.S_IFDIR | 0o1777)
    cpio.chardev("dev/console", 5, 1)
    cpio.chardev("dev/null", 1, 3, 0o666)
    cpio.file("bin/busybox", busybox.read_bytes(), 0o755)
    for path in sorted(set(applets)):
        if path != "bin/busybox" and "/" in path:
            cpio.symlink(path, "/bin/busybox")
    cpio.file("init", init, 0o755)
    for name, data in modules:
        cpio.file(f"lib/modules/{name}.ko", data)
    cpio.file("lib/modules/load-order", "".join(f"{n}\n" for n, _ in modules).encode())
    cpio.file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
    cpio.file("etc/group", b"root:x:0:\n")
    cpio.file("etc/hosts", b"127.0.0.1 localhost\n")
    cpio.file("etc/profile", b"export PATH=/sbin:/bin:/usr/sbin:/usr/bin\nPS1='\\h# '\n")
    cpio.file("etc/kumo-tiny-release", f"{release}\n".encode())
    return gzip.compress(cpio.finish(), compresslevel=6, mtime=0)
