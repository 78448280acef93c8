"""Model optimization before compilation: quantization-aware training (``mcc.optimize.qat``)."""

from .qat import QATModel, export, fine_tune, qat_model

__all__ = ["QATModel", "export", "fine_tune", "qat_model"]
