"""The rules of the cloud, for every caller alike: IPAM, ports, claims, unique names,
quotas, cascades. Faces (OpenStack, native), controllers and the metadata service
call these operations; none of them knows HTTP. Refusals are ``core.errors``.
"""
