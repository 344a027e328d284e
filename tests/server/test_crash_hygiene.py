"""Data files 0600 and the data directory 0700, whatever existed before.

Before: ``mkdir(mode=0o700)`` did nothing to an existing directory and SQLite made
``store.db`` (every password hash, the token key's neighbours) with the umask's 0644.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from tests.apiprocess import ApiProcess


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_world_readable_data_is_made_private(
        tmp_path: Path, api_factory: Callable[..., ApiProcess]) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    old = os.umask(0o022)
    try:
        api = api_factory(data_dir=data)
        api.kill()
        for p in [data, *data.iterdir()]:
            os.chmod(p, 0o755 if p.is_dir() else 0o644)
        (data / "stray.txt").write_text("left by hand\n")
        api_factory(data_dir=data)
    finally:
        os.umask(old)
    files = [p for p in data.iterdir() if p.is_file()]
    assert {"store.db", "fernet.key", "clouds.yaml", "stray.txt"} <= {p.name for p in files}
    assert _mode(data) == 0o700
    loose = {p.name: oct(_mode(p)) for p in files if _mode(p) & 0o077}
    assert not loose, loose


def test_a_fresh_data_dir_is_private_from_the_start(
        tmp_path: Path, api_factory: Callable[..., ApiProcess]) -> None:
    old = os.umask(0o022)
    try:
        api_factory(data_dir=tmp_path / "fresh" / "data")
    finally:
        os.umask(old)
    data = tmp_path / "fresh" / "data"
    assert _mode(data) == 0o700
    assert all(not _mode(p) & 0o077 for p in data.iterdir() if p.is_file())
