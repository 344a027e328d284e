"""What a valid zone or recordset is: names, TTLs, emails, record data per type.

Pure checks with no store access, so the face, the importer and the reconcilers judge
alike. Record data is parsed by dnspython (the same parser the zone-transfer source
renders with): anything it cannot turn into wire format is refused here, never at
transfer time. Refusals are ``Invalid`` with a Designate-style ``code``.
"""

from __future__ import annotations

import re

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype

from kumo.model import dns as dm

from .errors import Invalid

MAX_TTL = 2147483647
_LABEL = re.compile(r"^(\*|[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)$")
_ZONE_LABEL = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
USER_TYPES = tuple(t for t in dm.RECORD_TYPES if t != "SOA")


def _invalid(message: str, code: str = "invalid_object") -> Invalid:
    return Invalid(message, code=code)


def check_fqdn(name: object, what: str, *, zone: bool = False) -> str:
    """A lower-cased FQDN: a trailing dot, labels ≤ 63, the whole ≤ 255 octets."""
    if not isinstance(name, str) or not name:
        raise _invalid(f"{what} name is required and must be a string")
    if not name.endswith("."):
        raise _invalid(f"{what} name {name!r} must end with a dot (a fully qualified name)",
                       "invalid_object")
    if len(name) > 255 or len(name.encode("utf-8", "surrogatepass")) > 255:
        raise _invalid(f"{what} name is longer than 255 characters", "invalid_object")
    labels = name[:-1].split(".")
    if name == "." or any(not label for label in labels):
        raise _invalid(f"{what} name {name!r} has an empty label", "invalid_object")
    pattern = _ZONE_LABEL if zone else _LABEL
    for label in labels:
        if len(label) > 63:
            raise _invalid(f"{what} name has a label longer than 63 characters",
                           "invalid_object")
        if not pattern.match(label):
            raise _invalid(f"{what} name {name!r} has an invalid label {label!r}",
                           "invalid_object")
    if zone and len(labels) < 2:
        raise _invalid(f"zone name {name!r} is a top-level domain; zones have at least "
                       "two labels", "invalid_object")
    return name.lower()


def check_ttl(ttl: object, what: str = "ttl") -> int | None:
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 <= ttl <= MAX_TTL:
        raise _invalid(f"{what} must be an integer between 0 and {MAX_TTL}", "invalid_object")
    return ttl


def check_email(email: object) -> str:
    if not isinstance(email, str) or not _EMAIL.match(email) or len(email) > 255:
        raise _invalid(f"email {email!r} is not an email address")
    return email


def check_description(text: object) -> str | None:
    if text is None:
        return None
    if not isinstance(text, str) or len(text) > 160:
        raise _invalid("description must be a string of at most 160 characters")
    return text


def in_zone(name: str, zone: str) -> bool:
    return name == zone or name.endswith("." + zone)


def check_type(rtype: object) -> str:
    if not isinstance(rtype, str) or rtype.upper() not in USER_TYPES:
        raise _invalid(f"type {rtype!r} is not one of {', '.join(USER_TYPES)}",
                       "invalid_object")
    return rtype.upper()


def check_records(rtype: str, records: object, limit: int) -> list[str]:
    """Each record parses as ``rtype`` (relative names refused: data must be absolute)."""
    if not isinstance(records, list) or not records:
        raise _invalid("records must be a non-empty list of strings")
    if limit >= 0 and len(records) > limit:
        raise Invalid(f"a recordset holds at most {limit} records", code="over_quota")
    out: list[str] = []
    for text in records:
        if not isinstance(text, str) or not text.strip() or len(text) > 4096:
            raise _invalid("each record must be a non-empty string")
        try:
            rd = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(rtype),
                                     text, origin=dns.name.root, relativize=False)
        except (dns.exception.DNSException, ValueError, TypeError) as exc:
            raise _invalid(f"record {text!r} is not valid {rtype} data: {exc}",
                           "invalid_object") from None
        if rtype in ("TXT", "SPF") and text.endswith("\\"):
            raise _invalid(f"record {text!r} ends with a backslash (an escape of nothing)")
        rendered = rd.to_text()
        if rendered not in out:
            out.append(rendered)
    if rtype == "CNAME" and len(out) > 1:
        raise _invalid("a CNAME recordset holds exactly one record",
                       "invalid_recordset_location")
    return out


def soa_text(zone_name: str, email: str, serial: int, refresh: int, retry: int,
             expire: int, minimum: int, primary: str) -> str:
    """The zone's SOA record: the primary name server and the email as a mailbox name."""
    local, _, domain = email.partition("@")
    mbox = local.replace(".", "\\.") + "." + domain.rstrip(".") + "."
    return f"{primary} {mbox} {serial} {refresh} {retry} {expire} {minimum}"
