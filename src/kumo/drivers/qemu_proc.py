"""Starting, recognising and waiting for QEMU processes without owning them.

QEMU runs in its own session so it outlives the agent. After an agent restart
the new agent is not the parent, so liveness is read from /proc rather than
from waitpid; when this process *is* the parent, exited children are reaped
here so no zombies pile up.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from .procs import alive, cmdline, reap, wait_gone

__all__ = ["DIR_FD", "alive", "is_our_qemu", "kill", "launch", "reap", "running_qemu",
           "wait_gone"]
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


def is_our_qemu(pid: int, vm_id: str, pidfile: Path) -> bool:
    """Guard against pid reuse: the process must be QEMU started for this VM dir."""
    args = cmdline(pid)
    if not args or not os.path.basename(args[0]).startswith("qemu-system"):
        return False
    return _follows(args, "-uuid", vm_id) and _follows(args, "-pidfile", str(pidfile))


def running_qemu(pid: int | None, vm_id: str, pidfile: Path) -> bool:
    return pid is not None and alive(pid) and is_our_qemu(pid, vm_id, pidfile)


def kill(pid: int, vm_id: str, pidfile: Path) -> None:
    """SIGKILL, but only if the pid still belongs to this VM's QEMU."""
    if is_our_qemu(pid, vm_id, pidfile):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _follows(args: list[str], flag: str, value: str) -> bool:
    return any(a == flag and b == value for a, b in zip(args, args[1:], strict=False))

