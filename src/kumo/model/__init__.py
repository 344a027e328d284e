"""Resource kinds, one module per service; importing this registers them all."""

from . import compute, identity, image, network, objects, registry

__all__ = ["compute", "identity", "image", "network", "objects", "registry"]
