"""Guest images kumo builds itself, because none can be downloaded in CI."""

from kumo.imagebuild.kumo_tiny import (
    CMDLINE,
    BuildError,
    TinyImage,
    build,
    default_cache_dir,
    ensure_built,
)

__all__ = ["CMDLINE", "BuildError", "TinyImage", "build", "default_cache_dir", "ensure_built"]
