"""One directory per VM: the only place the QEMU driver keeps anything.

    <state_dir>/<vm id>/
        vm.json       spec + accelerator used; makes the VM known after a restart
        disk.qcow2    overlay on the cached base image
        qemu.pid      written by QEMU, removed by QEMU on a clean exit
        qmp.sock      QMP monitor socket
        console.log   serial console (appended across power cycles)
        console.log.0 previous console log once the current one grew too big
        qemu.log      QEMU's own stdout/stderr

A pidfile that outlives its process therefore means the process died
uncleanly (SIGKILL, OOM, crash): that is how "crashed" is told from "shutdown".
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from kumo.drivers.compute import InvalidSpec, VMSpec, validate_id

CONSOLE_ROTATE_BYTES = 4 * 1024 * 1024
_TAIL_BYTES = 1024 * 1024


class VMDir:
    """Paths and small file operations for one VM; names derive from the id only."""

    def __init__(self, state_dir: Path, vm_id: str):
        self.id = validate_id(vm_id)
        self.path = state_dir / vm_id
        self.meta = self.path / "vm.json"
        self.disk = self.path / "disk.qcow2"
        self.pidfile = self.path / "qemu.pid"
        self.qmp = self.path / "qmp.sock"
        self.console = self.path / "console.log"
        self.log = self.path / "qemu.log"

    def exists(self) -> bool:
        return self.path.is_dir()

    def create(self) -> None:
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def save(self, spec: VMSpec, accelerator: str) -> None:
        """Write vm.json atomically, so a crash never leaves half a spec."""
        tmp = self.meta.with_suffix(".tmp")
        tmp.write_text(json.dumps({"spec": spec.to_dict(), "accelerator": accelerator}, indent=1))
        os.replace(tmp, self.meta)

    def load(self) -> tuple[VMSpec, str] | None:
        try:
            data = json.loads(self.meta.read_text())
        except (OSError, ValueError):
            return None
        return VMSpec.from_dict(data["spec"]), data.get("accelerator", "tcg")

    def read_pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    def clear_runtime(self) -> None:
        """Forget the last run's pidfile and socket (after a stop or a crash)."""
        self.pidfile.unlink(missing_ok=True)
        self.qmp.unlink(missing_ok=True)

    def rotate_console(self) -> None:
        """Keep console logs bounded: one current file and one previous."""
        try:
            if self.console.stat().st_size > CONSOLE_ROTATE_BYTES:
                os.replace(self.console, self.console.with_name("console.log.0"))
        except FileNotFoundError:
            pass

    def console_tail(self, lines: int | None) -> str:
        return _tail(self.console, lines)

    def log_tail(self, lines: int = 20) -> str:
        return _tail(self.log, lines)

    def open_log(self) -> int:
        return os.open(self.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)


def list_ids(state_dir: Path) -> list[str]:
    """Ids of every VM directory under state_dir (anything else is ignored)."""
    try:
        names = sorted(p.name for p in state_dir.iterdir() if p.is_dir())
    except FileNotFoundError:
        return []
    ids = []
    for name in names:
        try:
            ids.append(validate_id(name))
        except InvalidSpec:
            continue
    return ids


def _tail(path: Path, lines: int | None) -> str:
    try:
        with path.open("rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - _TAIL_BYTES))
            data = f.read()
    except FileNotFoundError:
        return ""
    text = data.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\0", "")  # firmware writes NULs; the store refuses them
    if lines is None:
        return text
    if lines <= 0:
        return ""
    kept = text.splitlines(keepends=True)[-lines:]
    return "".join(kept)
