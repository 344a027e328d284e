"""What every layer of kumo shares and nothing else: errors, clocks, object helpers,
the reconcile loop and the informer. It imports nothing of kumo but ``observe``, so the
store, the core, the controllers and the host agents can all stand on it.
"""
