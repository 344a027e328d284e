"""Starting, recognising and waiting for QEMU processes without owning them.

QEMU runs in its own session so it outlives the agent. After an agent restart
the new agent is not the parent, so liveness is read from /proc rather than
from waitpid; when this process *is* the parent, exited children are reaped
here so no zombies pile up.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

_POLL = 0.05
DIR_FD = 3  # the VM directory, open in QEMU, for paths too long for a socket


def launch(argv: list[str], log_fd: int, vm_dir: Path) -> int:
    """Start argv detached (new session, stdin from /dev/null, vm_dir as fd 3); return its pid."""
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
        (os.POSIX_SPAWN_DUP2, log_fd, 1),
        (os.POSIX_SPAWN_DUP2, log_fd, 2),
        (os.POSIX_SPAWN_OPEN, DIR_FD, str(vm_dir), os.O_RDONLY | os.O_DIRECTORY, 0),
    ]
    return os.posix_spawnp(argv[0], argv, dict(os.environ), file_actions=actions, setsid=True)


def alive(pid: int) -> bool:
    """True while pid exists and is not a zombie; reaps it if it is our dead child."""
    stat = _stat(pid)
    if stat is None:
        return False
    state, ppid = stat
    if state in ("Z", "X"):
        if ppid == os.getpid():
            reap(pid)
        return False
    return True


def reap(pid: int) -> None:
    """Collect an exited child's status; harmless if it is not our child."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def is_our_qemu(pid: int, vm_id: str, pidfile: Path) -> bool:
    """Guard against pid reuse: the process must be QEMU started for this VM dir."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    args = raw.decode(errors="replace").split("\0")
    if not args or not os.path.basename(args[0]).startswith("qemu-system"):
        return False
    return _follows(args, "-uuid", vm_id) and _follows(args, "-pidfile", str(pidfile))


def running_qemu(pid: int | None, vm_id: str, pidfile: Path) -> bool:
    return pid is not None and alive(pid) and is_our_qemu(pid, vm_id, pidfile)


async def wait_gone(pid: int, timeout: float) -> bool:
    """Poll until pid has exited; False if it is still there after timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while alive(pid):
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(_POLL)
    return True


def kill(pid: int, vm_id: str, pidfile: Path) -> None:
    """SIGKILL, but only if the pid still belongs to this VM's QEMU."""
    if is_our_qemu(pid, vm_id, pidfile):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _follows(args: list[str], flag: str, value: str) -> bool:
    return any(a == flag and b == value for a, b in zip(args, args[1:], strict=False))


def _stat(pid: int) -> tuple[str, int] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()
    return fields[0], int(fields[1])
