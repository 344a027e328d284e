"""Detached helper processes (QEMU, dnsmasq, metadata proxies) that outlive the agent.

They run in their own session, so killing the agent leaves them running; a
restarted agent is no longer their parent, so liveness and identity are read
from /proc (state, cmdline) rather than from waitpid. When this process *is*
the parent, exited children are reaped here so no zombies pile up.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

_POLL = 0.05


class ProcessError(Exception):
    """A detached process could not be started or stopped."""


def cmdline(pid: int) -> list[str]:
    """The argv of pid from /proc ([] when it is gone or unreadable)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return raw.decode(errors="replace").split("\0")[:-1] if raw else []


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


async def wait_gone(pid: int, timeout: float) -> bool:
    """Poll until pid has exited; False if it is still there after timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while alive(pid):
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(_POLL)
    return True


async def terminate(pid: int, is_ours: Callable[[int], bool], timeout: float, what: str) -> None:
    """SIGTERM, then SIGKILL, as long as pid still passes `is_ours` (pid reuse guard)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not is_ours(pid):
            return
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        if await wait_gone(pid, timeout):
            return
    raise ProcessError(f"{what} (pid {pid}) survived SIGKILL")


def read_pid(pidfile: Path) -> int | None:
    """The pid on the first line of pidfile, if it names a live process other than init."""
    try:
        pid = int(pidfile.read_text().split("\n", 1)[0].strip())
    except (OSError, ValueError):
        return None
    return pid if pid > 1 and alive(pid) else None


def spawn_detached(argv: list[str], log: Path, stdin: bytes = b"") -> subprocess.Popen[bytes]:
    """Start argv in a new session, output appended to `log`, `stdin` fed and closed.

    Secrets go through stdin, never argv (argv is world-readable in /proc).
    """
    with open(log, "ab") as out:
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True,
                                    close_fds=True)
        except OSError as e:
            raise ProcessError(f"cannot run {argv[0]}: {e}") from e
    assert proc.stdin is not None
    try:
        proc.stdin.write(stdin)
        proc.stdin.close()
    except BrokenPipeError:
        pass  # it died at once; the caller sees that from the pidfile and the log
    return proc


def _stat(pid: int) -> tuple[str, int] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()
    return fields[0], int(fields[1])


def own_pid() -> int:
    return os.getpid()


def file_holders(path: str) -> list[dict[str, object]]:
    """Processes that hold ``path`` (or its -wal/-shm) open, from /proc/*/fd: who else
    uses the store's database (``kumo doctor``'s stalled-writer evidence)."""
    if not path:
        return []
    names = {path, path + "-wal", path + "-shm", path + "-journal"}
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fds = list((entry / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target in names:
                found.append({"pid": int(entry.name),
                              "cmdline": " ".join(cmdline(int(entry.name)))})
                break
    return found
