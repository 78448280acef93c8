"""Pruning criteria, one module each, registered by name (``METHODS``)."""

from . import activation, admm, fpgm, level, movement, norms, slim, taylor  # noqa: F401  (registration)
from .base import KERNELS, REGISTRY, Criterion, out_kernel

ORDER = ("level", "l1", "l2", "fpgm", "slim", "apoz", "mean_activation", "taylor", "admm", "movement")
METHODS = {name: REGISTRY[name] for name in ORDER}

__all__ = ["Criterion", "KERNELS", "METHODS", "out_kernel"]
