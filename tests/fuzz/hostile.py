"""Hypothesis strategies for what a hostile tenant sends: bodies shaped like each route's
real body with one value made hostile, raw documents no parser should accept, hostile path
segments and query parameters."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st


class Raw:
    """A JSON token ``json.dumps`` cannot write (``1e400``, a 5,000-digit number)."""

    def __init__(self, text: str) -> None:
        self.text = text


def dumps(doc: Any) -> bytes:
    """JSON with NaN/Infinity literals, ``\\ud800`` escapes and Raw tokens left in."""
    raws: list[str] = []

    def swap(node: Any) -> Any:
        if isinstance(node, Raw):
            raws.append(node.text)
            return f"@@RAW{len(raws) - 1}@@"
        if isinstance(node, dict):
            return {k: swap(v) for k, v in node.items()}
        if isinstance(node, list):
            return [swap(v) for v in node]
        return node

    text = json.dumps(swap(doc), allow_nan=True)
    return re.sub(r'"@@RAW(\d+)@@"', lambda mt: raws[int(mt.group(1))], text).encode()


def _deep(n: int) -> Any:
    out: Any = "x"
    for _ in range(n):
        out = {"a": out}
    return out


HOSTILE_VALUES: list[Any] = [
    "\ud800", "a\udfffb", "\x00", "a\x00b", "\x01\x1f\x7f", float("nan"), float("inf"),
    float("-inf"), Raw("1e400"), Raw("-1e400"), Raw("1" * 5000), 2**64, -(2**63) - 5, 10**30,
    -1, 0, 1.5, True, False, None, [], {}, ["x"], [None], {"a": {"b": "c"}}, {"\ud800": "v"},
    "x" * 256, "x" * 70000, "☃ 日本 \u202e", "", " ", "2147483648", "-1", "1e400", _deep(40),
    [[[[[[[[[[]]]]]]]]]],
]
RAW_DOCUMENTS: list[bytes] = [
    b"", b" ", b"null", b"[]", b"1", b'"x"', b"NaN", b"[1e400]", b"{", b"{}",
    b"[" * 100000 + b"]" * 100000, b'{"a":' * 5000 + b"1" + b"}" * 5000,
    b'"\\ud800"', b'{"\\udc00": 1}', b"\xff\xfe{}", b"\xef\xbb\xbf{}", b'{"a": "\xed\xa0\x80"}',
    b'{"a": 1, "a": 2}', b"\x00", b'{"a": ' + b"9" * 10000 + b"}",
]
HOSTILE_SEGMENTS: list[str] = [
    quote(s, safe="") for s in [
        "\x00", "a\x00b", "\x01", "\x7f", "é", "☃", "日本", "\u202e", "..", ".", " ", "a" * 300,
        "9" * 30, "-1", "2147483648", "18446744073709551616", "%", "a,b", "a;b", "🙂", "\t",
        "1e400", "NaN", "0x10", "+1", "00000000-0000-0000-0000-000000000000",
    ]] + ["%ED%A0%80", "%FF", "%C0%80", "%00%00", "%E2%98"]
QUERY_KEYS = [
    "limit", "marker", "offset", "name", "sort_key", "sort_dir", "fields", "all_tenants",
    "all_projects", "labelSelector", "continue", "timeoutSeconds", "status", "project_id",
    "tenant_id", "id", "visibility", "member_status", "tag", "tags", "tags-any", "not-tags",
    "shared", "admin_state_up", "minDisk", "minRam", "is_public", "user_id", "host",
    "network_id", "device_id", "ip_version", "cidr", "changes-since", "changes-before",
    "page_reverse", "domain_id", "enabled", "parent_id", "size_min", "size_max", "length",
    "resourceVersion", "detailed", "flavor", "image", "ip", "availability_zone",
]
QUERY_VALUES = [
    "-1", "0", "1", "-9223372036854775809", "9223372036854775808", str(2**70), "1" * 5000,
    "1e400", "NaN", "inf", "\x00", "a\x00b", "\x01", "☃", "é" * 300, "", " ", "true", "2.5",
    "abc", "[]", "{}", "%", "2026-13-45T99:99:99Z", "0000-00-00", "x" * 5000,
]


def _leaves(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into ``doc`` (containers too): where a hostile value may go."""
    out = [path]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.extend(_leaves(v, (*path, k)))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out.extend(_leaves(v, (*path, i)))
    return out


def _put(doc: Any, path: tuple[Any, ...], value: Any, add_key: str | None) -> Any:
    if not path:
        if add_key is not None and isinstance(doc, dict):
            return {**doc, add_key: value}
        return value
    head, rest = path[0], path[1:]
    if isinstance(doc, dict):
        return {**doc, head: _put(doc[head], rest, value, add_key)}
    out = list(doc)
    out[head] = _put(doc[head], rest, value, add_key)
    return out


@st.composite
def hostile_body(draw: st.DrawFn, template: Any) -> bytes:
    """The route's real body with one place made hostile, or a raw hostile document."""
    if template is None or draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from(RAW_DOCUMENTS))
    where = draw(st.sampled_from(_leaves(template)))
    value = draw(st.sampled_from(HOSTILE_VALUES))
    add_key = draw(st.sampled_from([None, None, "extra", "name", "description", "\ud800"]))
    return dumps(_put(template, where, value, add_key))


@st.composite
def segment(draw: st.DrawFn, real: list[str]) -> str:
    if real and draw(st.booleans()):
        return quote(draw(st.sampled_from(real)), safe="")
    return draw(st.sampled_from(HOSTILE_SEGMENTS))


@st.composite
def query(draw: st.DrawFn) -> str:
    pairs = draw(st.lists(st.tuples(st.sampled_from(QUERY_KEYS), st.sampled_from(QUERY_VALUES)),
                          max_size=3))
    return "&".join(f"{quote(k)}={quote(v, safe='')}" for k, v in pairs)
