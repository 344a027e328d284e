"""L7 policies and rules as HAProxy ACLs and actions, in the listener's frontend.

Rule values are the only tenant text that reaches a configuration file, so each is
checked against a narrow grammar before it is written (printable ASCII without quotes,
backslashes or spaces; header and cookie names are RFC 7230 tokens; regexes must
compile) and then written double-quoted. ACL names derive from rule ids. HAProxy runs
``http-request deny`` and ``redirect`` before ``use_backend`` whatever their order in
the file, as Octavia's amphora does; within each kind, policies keep their position.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ID = re.compile(r"^[0-9a-f-]{36}$")
_VALUE = re.compile(r"^[\x21-\x7e]+$")
_TOKEN = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
_URL = re.compile(r"^https?://[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-]+$")
_CODES = {301, 302, 303, 307, 308}
_MATCH = {"REGEX": "reg", "STARTS_WITH": "beg", "ENDS_WITH": "end", "CONTAINS": "sub",
          "EQUAL_TO": "str"}
_FETCH = {"PATH": "path", "HOST_NAME": "req.hdr(host),field(1,:)", "HEADER": "req.hdr",
          "COOKIE": "req.cook", "FILE_TYPE": "path"}


class L7Error(ValueError):
    """A rule or policy that cannot be rendered safely."""


@dataclass(frozen=True)
class RulePlan:
    id: str
    type: str  # PATH | HOST_NAME | HEADER | COOKIE | FILE_TYPE
    compare: str  # REGEX | STARTS_WITH | ENDS_WITH | CONTAINS | EQUAL_TO
    value: str
    key: str | None = None
    invert: bool = False


@dataclass(frozen=True)
class PolicyPlan:
    id: str
    action: str  # REDIRECT_TO_POOL | REDIRECT_TO_URL | REDIRECT_PREFIX | REJECT
    rules: tuple[RulePlan, ...] = ()
    pool_id: str | None = None
    url: str | None = None
    code: int = 302


def check_value(value: str, compare: str) -> str:
    """The value as it may appear between double quotes, or L7Error."""
    if not _VALUE.match(value) or '"' in value or "\\" in value:
        raise L7Error("value must be printable ASCII without spaces, quotes or backslashes")
    if compare == "REGEX":
        try:
            re.compile(value)
        except re.error as exc:
            raise L7Error(f"invalid regex: {exc}") from None
    return value


def check_key(key: str | None) -> str:
    if not key or not _TOKEN.match(key):
        raise L7Error("key must be a header or cookie name")
    return key


def check_url(url: str | None) -> str:
    if not url or not _URL.match(url):
        raise L7Error("not an http(s) URL")
    return url


def _id(value: str) -> str:
    if not _ID.match(value):
        raise L7Error(f"not an id: {value!r}")
    return value


def acl(rule: RulePlan) -> str:
    """``acl r<id> <fetch> -m <match> "<value>"`` for one rule."""
    value = check_value(rule.value, rule.compare)
    match = _MATCH.get(rule.compare)
    fetch = _FETCH.get(rule.type)
    if match is None or fetch is None:
        raise L7Error(f"unsupported rule {rule.type} {rule.compare}")
    if rule.type in ("HEADER", "COOKIE"):
        fetch = f"{fetch}({check_key(rule.key)})"
    if rule.type == "FILE_TYPE" and rule.compare == "EQUAL_TO":
        match, value = "end", "." + value.lstrip(".")
    case = " -i" if rule.type == "HOST_NAME" else ""
    return f"    acl r{_id(rule.id)} {fetch}{case} -m {match} \"{value}\""


def _condition(policy: PolicyPlan) -> str:
    return " ".join(("!" if r.invert else "") + f"r{_id(r.id)}" for r in policy.rules)


def action(policy: PolicyPlan) -> str | None:
    """The frontend line a policy becomes; None when it has no rules (never matches)."""
    if not policy.rules:
        return None
    cond = _condition(policy)
    if policy.action == "REJECT":
        return f"    http-request deny deny_status 403 if {cond}"
    if policy.action == "REDIRECT_TO_POOL":
        return f"    use_backend p{_id(str(policy.pool_id))} if {cond}"
    if policy.code not in _CODES:
        raise L7Error(f"redirect code {policy.code}")
    kind = {"REDIRECT_TO_URL": "location", "REDIRECT_PREFIX": "prefix"}.get(policy.action)
    if kind is None:
        raise L7Error(f"action {policy.action}")
    return f"    redirect {kind} \"{check_url(policy.url)}\" code {policy.code} if {cond}"


def frontend_lines(policies: tuple[PolicyPlan, ...], live_pools: set[str]) -> list[str]:
    """ACLs then actions, in position order; a policy whose pool is gone is skipped."""
    acls: list[str] = []
    actions: list[str] = []
    for p in policies:
        if p.action == "REDIRECT_TO_POOL" and p.pool_id not in live_pools:
            continue
        line = action(p)
        if line is not None:
            acls += [acl(r) for r in p.rules]
            actions.append(line)
    return acls + actions
