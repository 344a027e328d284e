"""The version of this kumo build: agents report it, the doctor compares it with the
control plane's (a host left on an old build is a finding, not a mystery)."""

VERSION = "0.1.0"


def parse(version: str) -> tuple[int, ...]:
    """``"0.1.0"`` -> ``(0, 1, 0)``; unparsable parts count as 0."""
    return tuple(int(p) if p.isdigit() else 0 for p in (version or "0").split("."))
