"""Kubernetes label selectors: ``a=b,c!=d,e in (x,y),f notin (z),g,!h``."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from .errors import Invalid

_KEY = re.compile(r"[\w./-]+")
_SET = re.compile(r"^\s*([\w./-]+)\s+(in|notin)\s*\(([^)]*)\)\s*$")
Predicate = Callable[[Mapping[str, str]], bool]


def _split(selector: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in selector:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


def _term(term: str) -> Predicate:
    m = _SET.match(term)
    if m:
        key, op, vals = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",")}
        if vals == {""}:
            raise Invalid(f"label selector {term!r}: the set of values is empty")
        if op == "in":
            return lambda labels: labels.get(key) in vals
        return lambda labels: labels.get(key) not in vals
    for op in ("!=", "==", "="):
        if op in term:
            key, val = (s.strip() for s in term.split(op, 1))
            if not _KEY.fullmatch(key):
                raise Invalid(f"invalid label selector term {term!r}")
            if op == "!=":
                return lambda labels: labels.get(key) != val
            return lambda labels: labels.get(key) == val
    if term.startswith("!") and _KEY.fullmatch(term[1:].strip()):
        key = term[1:].strip()
        return lambda labels: key not in labels
    if _KEY.fullmatch(term):
        return lambda labels: term in labels
    raise Invalid(f"invalid label selector term {term!r}")


def parse_selector(selector: str | None) -> Predicate:
    """Compile a selector into a predicate over a labels mapping."""
    if not selector:
        return lambda labels: True
    preds = [_term(t) for t in _split(selector)]
    return lambda labels: all(p(labels) for p in preds)
