"""Model readers: each turns a user's model file into an mcc IR graph."""

from .tflite import load_tflite

__all__ = ["load_tflite"]
