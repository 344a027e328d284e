"""The authorization matrix's cloud (the quota tests' in-process cloud)."""

from tests.quotas.conftest import cloud

__all__ = ["cloud"]
