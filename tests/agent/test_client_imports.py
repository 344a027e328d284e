"""The agents' HTTP client must not rescan sys.path on every httpcore lock."""

from __future__ import annotations

import asyncio
import sys


def test_httpcore_library_check_never_searches_for_sniffio() -> None:
    """httpcore imports sniffio on each lock/connection; absent, every try scanned
    sys.path (1 ms a request). After kumo.client, the answer is in sys.modules."""
    from httpcore._synchronization import current_async_library

    import kumo.client  # noqa: F401

    assert "sniffio" in sys.modules

    async def library() -> str:
        return current_async_library()

    assert asyncio.run(library()) == "asyncio"
