"""``kumo doctor``: cross-layer invariants, each violation as a chain to its root cause.

``Doctor(objects).run(scope)`` takes one snapshot of the store and runs every check
registered with ``findings.check``; ``render`` turns reports and traces into text.
"""

from .findings import CHECKS, Finding, Link, check
from .run import Doctor, parse_scope

__all__ = ["CHECKS", "Doctor", "Finding", "Link", "check", "parse_scope"]
