"""Clients of kumo's native API: the async one the host agents run on (``ApiClient``,
with an informer ``ApiSource``), and the small synchronous one of the CLI."""

from .native import ApiClient, load_credentials
from .source import ApiSource

__all__ = ["ApiClient", "ApiSource", "load_credentials"]
