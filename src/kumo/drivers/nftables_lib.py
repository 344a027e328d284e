"""libnftables, called in-process through ctypes, on one worker thread.

One ``nft_run_cmd_from_buffer`` call is one netlink batch: the kernel applies all
of it or none of it, which is what makes each security-group change atomic. The
library ships with the ``nftables`` package (libnftables1); where it cannot be
loaded, the same text goes to ``nft -f -`` (still one batch, one process per change,
never one per rule). With ``netns`` the worker thread enters that namespace first,
so a test can program the tables of a namespace it made without leaving its own.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import subprocess
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from .netns import NETNS_DIR, setns, validate_name

T = TypeVar("T")
_OUTPUT_JSON = 1 << 4
_OUTPUT_HANDLE = 1 << 3


class NftError(Exception):
    """nft refused a batch (nothing of it was applied) or could not be run."""


class Nft:
    def __init__(self, netns: str | None = None) -> None:
        self.netns = validate_name(netns) if netns is not None else None
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="nft")
        self._lock = threading.Lock()
        self._lib: Any = None
        self._ctx: Any = None
        self._ready = False
        self.backend = ""

    def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return self._pool.submit(self._in_worker, fn, *args).result()

    def _in_worker(self, fn: Callable[..., T], *args: Any) -> T:
        if not self._ready:
            self._setup()
        return fn(*args)

    def _setup(self) -> None:
        if self.netns is not None:
            fd = os.open(NETNS_DIR / self.netns, os.O_RDONLY | os.O_CLOEXEC)
            try:
                setns(fd)
            finally:
                os.close(fd)
        path = ctypes.util.find_library("nftables") or "libnftables.so.1"
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            self.backend = "nft"
        else:
            lib.nft_ctx_new.restype = ctypes.c_void_p
            lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
            for name in ("nft_ctx_buffer_output", "nft_ctx_buffer_error"):
                getattr(lib, name).argtypes = [ctypes.c_void_p]
            lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
            lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
            lib.nft_run_cmd_from_buffer.restype = ctypes.c_int
            for name in ("nft_ctx_get_output_buffer", "nft_ctx_get_error_buffer"):
                getattr(lib, name).argtypes = [ctypes.c_void_p]
                getattr(lib, name).restype = ctypes.c_char_p
            self._lib, self._ctx = lib, lib.nft_ctx_new(0)
            lib.nft_ctx_buffer_output(self._ctx)
            lib.nft_ctx_buffer_error(self._ctx)
            self.backend = "libnftables"
        self._ready = True

    def _run_lib(self, text: str, flags: int) -> str:
        lib = self._lib
        lib.nft_ctx_output_set_flags(self._ctx, flags)
        rc = lib.nft_run_cmd_from_buffer(self._ctx, text.encode())
        out = (lib.nft_ctx_get_output_buffer(self._ctx) or b"").decode()
        err = (lib.nft_ctx_get_error_buffer(self._ctx) or b"").decode()
        if rc != 0:
            raise NftError(err.strip() or f"nft failed ({rc})")
        return out

    def _run_cli(self, text: str, flags: int) -> str:
        argv = ["nft", *(["-j"] if flags & _OUTPUT_JSON else []), "-f", "-"]
        try:
            done = subprocess.run(argv, input=text, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise NftError(f"nft: {exc}") from exc
        if done.returncode != 0:
            raise NftError(done.stderr.strip() or f"nft exited {done.returncode}")
        return done.stdout

    def _run(self, text: str, flags: int = 0) -> str:
        if self.backend == "libnftables":
            return self._run_lib(text, flags)
        return self._run_cli(text, flags)

    def run(self, text: str) -> None:
        """Apply one batch (many commands, one transaction)."""
        with self._lock:
            self._call(self._run, text)

    def list_json(self, what: str) -> list[dict[str, Any]]:
        """``list <what>`` as nft's JSON objects; [] when it does not exist."""
        with self._lock:
            try:
                out = self._call(self._run, f"list {what}", _OUTPUT_JSON)
            except NftError as exc:
                if "No such file" in str(exc):
                    return []
                raise
        return [o for o in json.loads(out or '{"nftables": []}')["nftables"]
                if "metainfo" not in o]

    def in_namespace(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn`` on the worker thread, in the firewall's namespace."""
        with self._lock:
            return self._call(fn, *args)

    def ensure_sysctl(self, name: str, value: str) -> bool:
        """Set ``/proc/sys/<name>`` in this namespace (the worker's); True if it changed."""
        path = "/proc/sys/" + name.replace(".", "/")

        def write() -> bool:
            with open(path) as f:
                if f.read().strip() == value:
                    return False
            with open(path, "w") as f:
                f.write(value)
            return True

        with self._lock:
            return self._call(write)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
