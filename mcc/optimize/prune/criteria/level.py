"""Level: magnitude of each weight (unstructured)."""

import numpy as np

from .base import Criterion, register


@register
class Level(Criterion):
    name = "level"
    structured = False
    channel = False

    def element_score(self, w):
        return np.abs(w)
