"""Label selectors: ``a=b,c!=d,e in (x,y),f notin (z),g,!h``, as Kubernetes reads them."""

from __future__ import annotations

import pytest

from kumo.store import Invalid
from kumo.store.selectors import parse_selector

WEB = {"tier": "web", "env": "prod", "kumo.io/server": "vm-1", "empty": ""}


@pytest.mark.parametrize("selector,labels,want", [
    # equality
    ("tier=web", WEB, True), ("tier=db", WEB, False), ("tier==web", WEB, True),
    ("tier = web", WEB, True), ("kumo.io/server=vm-1", WEB, True), ("empty=", WEB, True),
    ("missing=x", WEB, False),
    # inequality: a missing key is "not equal"
    ("tier!=db", WEB, True), ("tier!=web", WEB, False), ("missing!=x", WEB, True),
    # set membership; notin matches a missing key
    ("tier in (web, db)", WEB, True), ("tier in (db)", WEB, False), ("tier in(web)", WEB, True),
    ("missing in (x)", WEB, False), ("tier notin (db,x)", WEB, True),
    ("tier notin (web)", WEB, False), ("missing notin (x)", WEB, True),
    # existence
    ("tier", WEB, True), ("empty", WEB, True), ("missing", WEB, False),
    ("!missing", WEB, True), ("!tier", WEB, False), ("! tier", WEB, False),
    # conjunctions
    ("tier=web,env in (prod,dev),!canary", WEB, True),
    ("tier=web,env notin (prod)", WEB, False),
    ("tier in (web,db), env=prod", WEB, True),
    # empty selector matches everything
    ("", WEB, True), (None, {}, True), ("  ", {}, True),
])
def test_matches(selector: str | None, labels: dict[str, str], want: bool) -> None:
    assert parse_selector(selector)(labels) is want


def test_empty_labels() -> None:
    assert parse_selector("!a,b!=c,d notin (e)")({}) is True
    assert parse_selector("a")({}) is False


@pytest.mark.parametrize("bad", [
    "=x", "==x", "!=x",          # no key
    "!",                         # negation of nothing
    "a b=c", "a b",              # a key with a space
    "!a=b",                      # ! belongs to existence only
    "a in ()", "a notin ( )",    # empty set
    "in (x)", "a in (x", "a in x)", "a in (x) y", "a (x)",
    "a=b,(c)",
])
def test_invalid(bad: str) -> None:
    with pytest.raises(Invalid):
        parse_selector(bad)
