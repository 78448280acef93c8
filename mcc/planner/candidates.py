"""The planner's final check: candidate allocations scored on calibration data, the best one kept.

A sensitivity is a model of the loss (additive over channels, measured on few samples); the
allocation that is optimal for it is not always the best model. So the planner solves the integer
program for several sensitivity measures (model-output error at the output, at the logits, their
KL divergence, the Fisher estimate) and adds the uniform widths that fit the budget, then runs
every distinct candidate with the numpy reference interpreter (the TFLM-exact int8 model) on
calibration data and keeps the best:

- with labels: the highest top-1 on them, ties broken by the lower mean cross-entropy;
- without: the highest agreement of top-1 with the reference model (the float model when given,
  else the int8 model), ties broken by the lower mean KL divergence from its outputs.

Ties left after that keep the earlier candidate (the order given: the first sensitivity's MILP
solution first). The data must not be the test set the model is evaluated on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputDataError
from ..ir import Graph
from ..passes.weight_bits import set_weight_bits
from .sensitivity import final_softmax
from .bits import Allocation, BitProblem, Layer, WIDTHS, allocate, flash_of, objective_of


@dataclass(frozen=True)
class Candidate:
    label: str                         # e.g. "milp:output", "uniform 4-bit"
    allocation: Allocation
    score: tuple[float, float] | None = None   # (top-1 or agreement, -tie-break loss) on the check data


def with_sensitivity(problem: BitProblem, sens: dict[str, np.ndarray]) -> BitProblem:
    """``problem`` with the sensitivity of every layer replaced."""
    return BitProblem(tuple(Layer(layer.name, layer.family, layer.bytes, sens[layer.name])
                            for layer in problem.layers), problem.fixed, problem.budget, problem.code)


def without_2_bits(problem: BitProblem) -> BitProblem:
    """``problem`` where 2 bits costs the 8-bit bytes (so it is never better than 8 bits; read a 2 in
    its solution as 8)."""
    layers = []
    for layer in problem.layers:
        b = layer.bytes.copy()
        b[:, 2] = b[:, 0]
        layers.append(Layer(layer.name, layer.family, b, layer.sens))
    return BitProblem(tuple(layers), problem.fixed, problem.budget,
                      {k: v for k, v in problem.code.items() if not (isinstance(k, tuple) and k[1] == 2)})


def candidate_allocations(problem: BitProblem, sens_by_measure: dict[str, dict[str, np.ndarray]],
                          method: str = "auto") -> list[Candidate]:
    """One allocation per sensitivity measure (in the order given); when uniform 4-bit fits, one per
    measure with no channel below 4 bits; then the uniform widths that fit. Duplicates (same widths)
    are dropped. The objective reported is that of the first measure."""
    first = with_sensitivity(problem, next(iter(sens_by_measure.values())))
    out: list[Candidate] = []
    seen = set()

    def add(label, widths, optimal):
        key = tuple(sorted((k, tuple(v)) for k, v in widths.items()))
        if key in seen:
            return
        seen.add(key)
        out.append(Candidate(label, Allocation(widths, objective_of(first, widths), flash_of(problem, widths),
                                               label, optimal)))

    for measure, sens in sens_by_measure.items():
        a = allocate(with_sensitivity(problem, sens), method=method)
        add(f"{a.method}:{measure}", a.widths, a.optimal)
    four = {layer.name: (4,) * layer.channels for layer in problem.layers}
    if flash_of(problem, four) <= problem.budget:  # no 2 bits: every channel at least as wide as uniform 4-bit
        for measure, sens in sens_by_measure.items():
            a = allocate(without_2_bits(with_sensitivity(problem, sens)), method=method)
            widths = {k: tuple(8 if b == 2 else b for b in v) for k, v in a.widths.items()}
            add(f"{a.method} 8/4:{measure}", widths, a.optimal)
    for b in WIDTHS[1:]:
        widths = {layer.name: (b,) * layer.channels for layer in problem.layers}
        if flash_of(problem, widths) <= problem.budget:
            add(f"uniform {b}-bit", widths, False)
    return out


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def score(probs: np.ndarray, labels: np.ndarray | None, reference: np.ndarray | None) -> tuple[float, float]:
    """(top-1 on the labels or agreement with ``reference``'s top-1, minus the mean cross-entropy on
    the labels or minus the mean KL divergence from ``reference``) of output probabilities."""
    logp = np.log(np.clip(probs, 1e-6, None))
    logp = _log_softmax(logp)  # renormalize (int8 probabilities do not sum to exactly 1)
    if labels is not None:
        y = np.asarray(labels).reshape(-1).astype(int)
        return float(np.mean(probs.argmax(1) == y)), float(logp[np.arange(len(y)), y].mean())
    ref = _log_softmax(np.log(np.clip(reference, 1e-6, None)))
    agree = float(np.mean(probs.argmax(1) == reference.argmax(1)))
    return agree, -float((np.exp(ref) * (ref - logp)).sum(axis=1).mean())


def _as_probs(y: np.ndarray, softmax_out: bool) -> np.ndarray:
    return y if softmax_out else np.exp(_log_softmax(y))


def real_inputs(g: Graph, x: np.ndarray) -> np.ndarray:
    """Float real-valued inputs: int8 arrays (an int8-input model's raw inputs) dequantized."""
    x = np.asarray(x)
    t = g.tensors[g.inputs[0]]
    if x.dtype == np.int8 and t.dtype == "int8":
        return (t.quant.s * (x.astype(np.float32) - t.quant.zp)).astype(np.float32)
    return x.astype(np.float32)


def pick(g: Graph, candidates: list[Candidate], x: np.ndarray, labels: np.ndarray | None = None,
         float_graph: Graph | None = None, predict=None) -> tuple[Candidate, list[Candidate]]:
    """(the best candidate, every candidate with its score) on the check data ``x`` (see the module doc).

    ``predict(graph, x)`` -> float outputs (default: the numpy reference, ``predict_int8``; the
    compiled C gives the same outputs, faster)."""
    from ..evaluate import predict_float, predict_int8

    predict = predict or predict_int8

    if not candidates:
        raise ValueError("pick: no candidates")
    x = real_inputs(g, x)
    if labels is not None and len(labels) != len(x):
        raise InputDataError(f"the planner's check data has {len(x)} inputs but {len(labels)} labels")
    softmax_out = final_softmax(g) is not None
    reference = None
    if labels is None:
        reference = predict_float(float_graph, x) if float_graph is not None else predict(g, x)
        reference = _as_probs(reference, softmax_out)
    scored = []
    for c in candidates:
        gc = set_weight_bits(g, c.allocation.widths, float_graph)
        scored.append(Candidate(c.label, c.allocation, score(_as_probs(predict(gc, x), softmax_out),
                                                             labels, reference)))
    best = max(range(len(scored)), key=lambda i: (scored[i].score, -i))
    return scored[best], scored
