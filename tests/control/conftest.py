"""The in-process Nova fixtures, for control-plane tests that drive the real face."""

from ..compute.conftest import alice, nova, public_image  # noqa: F401 - fixtures
