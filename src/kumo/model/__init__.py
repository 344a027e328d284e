"""Resource kinds, one module per service; importing this registers them all."""

from . import compute, dns, identity, image, loadbalancer, names, network, objects, ops, registry

__all__ = ["compute", "dns", "identity", "image", "loadbalancer", "names", "network", "objects",
           "ops", "registry"]
