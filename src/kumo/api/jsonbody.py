"""The one strict JSON reader of every API (native and each OpenStack face).

``json.loads`` alone accepts what later breaks a read: lone UTF-16 surrogates (sent as
``\\ud800`` escapes; stored fine, then every list that includes them fails to encode),
``NaN``/``Infinity`` (not JSON), ``1e400`` (becomes ``inf``), integers of any size (SQLite
and clients overflow) and nesting deep enough to exhaust the recursion limit. Each is
refused here, before anything is stored, with a message saying what is wrong; the caller
turns :class:`BadJson` into its face's 400.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DEPTH = 32
MAX_INT = 2**63  # |int| above this overflows SQLite, Go and Java clients alike
_MAX_INT_DIGITS = 20
BAD_TEXT = re.compile("[\ud800-\udfff\x00]")


class BadJson(ValueError):
    """A body that is not acceptable JSON; the message is safe to show the client."""


def _constant(name: str) -> Any:
    raise BadJson(f"{name} is not a valid JSON number")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadJson(f"number {text[:40]} is out of range")
    return value


def _int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise BadJson(f"number {text[:40]}... is out of range")
    value = int(text)
    if abs(value) > MAX_INT:
        raise BadJson(f"number {text} is out of range")
    return value


def bad_text(value: str) -> str | None:
    """Why ``value`` may not be stored (a lone surrogate or NUL), or None."""
    found = BAD_TEXT.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        return "a NUL character"
    return f"a lone UTF-16 surrogate (\\u{ord(found.group()):04x})"


def check_value(data: Any, max_depth: int = MAX_DEPTH) -> None:
    """Walk a decoded document (iteratively): depth, key and string contents."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            why = bad_text(node)
            if why:
                raise BadJson(f"string contains {why}")
            continue
        if not isinstance(node, dict | list):
            continue
        if depth > max_depth:
            raise BadJson(f"JSON nesting is deeper than {max_depth} levels")
        if isinstance(node, dict):
            for key, value in node.items():
                why = bad_text(key)
                if why:
                    raise BadJson(f"object key contains {why}")
                stack.append((value, depth + 1))
        else:
            stack.extend((value, depth + 1) for value in node)


def loads(raw: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """Decode ``raw`` strictly (UTF-8, RFC 8259 numbers within range, bounded depth)."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes | bytearray) else raw
    except UnicodeDecodeError as exc:
        raise BadJson(f"request body is not valid UTF-8: {exc.reason}") from exc
    try:
        data = json.loads(text, parse_constant=_constant, parse_float=_float, parse_int=_int)
    except BadJson:
        raise
    except RecursionError as exc:
        raise BadJson(f"JSON nesting is deeper than {max_depth} levels") from exc
    except ValueError as exc:
        raise BadJson(str(exc)) from exc
    check_value(data, max_depth)
    return data
