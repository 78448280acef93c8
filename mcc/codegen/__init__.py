"""C code generation: kernel-call records in Python, Jinja2 templates as views."""

from .emit import generate

__all__ = ["generate"]
