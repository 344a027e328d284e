from __future__ import annotations

import pytest

from kumo.store import Invalid
from kumo.store.selectors import parse_selector


@pytest.mark.parametrize("sel,labels,want", [
    ("a=b", {"a": "b"}, True), ("a=b", {"a": "c"}, False), ("a==b", {"a": "b"}, True),
    ("a!=b", {}, True), ("a!=b", {"a": "b"}, False), ("a", {"a": ""}, True), ("a", {}, False),
    ("!a", {}, True), ("!a", {"a": "x"}, False), ("a in (x, y)", {"a": "y"}, True),
    ("a notin (x,y)", {"a": "z"}, True), ("a notin (x,y)", {"a": "x"}, False),
    ("a=b,c in (d)", {"a": "b", "c": "d"}, True), ("", {"q": "r"}, True),
])
def test_selector(sel: str, labels: dict, want: bool) -> None:
    assert parse_selector(sel)(labels) is want


@pytest.mark.parametrize("bad", ["=x", "a b c", "in (x)"])
def test_invalid(bad: str) -> None:
    with pytest.raises(Invalid):
        parse_selector(bad)
