"""Resource kinds, one module per service; importing this registers them all."""

from . import compute, dns, identity, image, names, network, objects, ops, registry

__all__ = ["compute", "dns", "identity", "image", "names", "network", "objects", "ops",
           "registry"]
