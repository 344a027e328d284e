"""Drivers: the only code that touches the host (QEMU, netlink, files)."""
