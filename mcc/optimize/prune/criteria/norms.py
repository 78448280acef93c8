"""L1-norm and L2-norm filter pruning (Li et al. 2017): a filter's norm ranks its channel."""

import numpy as np

from .base import Criterion, register


@register
class L1(Criterion):
    name = "l1"
    element = False

    def element_score(self, w):
        return np.abs(w)


@register
class L2(Criterion):
    name = "l2"
    element = False

    def element_score(self, w):
        return np.square(w)      # summed per filter: the squared L2 norm (same ranking)
