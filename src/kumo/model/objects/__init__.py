"""Typed models of every stored kind, one module per service (spec/status split).

Importing this package registers each model with ``kumo.model.base.model_for``, so the
native API's admission validates every write against its kind, and the core can read an
object as ``Port.from_obj(raw)`` instead of digging in dicts. The field owners are
documented beside the kind names (``kumo.model.compute`` and friends).
"""

from . import compute, dns, identity, image, loadbalancer, misc, network, network_l3, ops

__all__ = ["compute", "dns", "identity", "image", "loadbalancer", "misc", "network", "network_l3",
           "ops"]
