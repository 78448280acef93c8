"""MACs and int8 flash bytes of a Keras model, for budgets and reports.

Counted per layer from its kernel and output shape: Conv (kh*kw*cin*cout per output position),
depthwise (kh*kw*C*multiplier), separable (both), Dense (in*out per leading position); flash =
one byte per nonzero weight (int8) + four per bias (int32). Zeros are not counted, so
unstructured sparsity shows what a sparse encoding could save at best; BatchNormalization folds
away and costs nothing."""

from __future__ import annotations

import numpy as np

from .graph import DEPTHWISE, PRODUCERS, layer_type


def layer_costs(model) -> dict[str, tuple[int, int]]:
    """{layer: (MACs, flash bytes)} for layers with kernels (zero-valued weights not counted)."""
    out = {}
    for layer in model.layers:
        kind = layer_type(layer)
        if kind not in PRODUCERS + DEPTHWISE:
            continue
        ws = {v.name: np.asarray(v.numpy()) for v in layer.weights}
        shape = layer.output.shape
        positions = int(np.prod([d for d in shape[1:-1]])) if len(shape) > 2 else 1
        macs, flash = 0, 0
        for name in ("kernel", "depthwise_kernel", "pointwise_kernel"):
            if name in ws:
                nz = int(np.count_nonzero(ws[name]))
                macs += positions * nz
                flash += nz
        if "bias" in ws:
            flash += 4 * ws["bias"].size
        out[layer.name] = (macs, flash)
    return out


def totals(model) -> tuple[int, int]:
    c = layer_costs(model)
    return sum(m for m, _ in c.values()), sum(f for _, f in c.values())


def estimate(ctx, sparsity: dict[str, float]) -> tuple[int, int]:
    """(MACs, flash) that pruning ctx's units at ``sparsity`` would leave, without touching weights:
    structured from kept channel counts, unstructured from kept weight counts."""
    from .select import choose_structured, choose_unstructured, scores

    if not hasattr(ctx, "_cost_scores"):
        ctx._cost_scores = scores(ctx)
    if ctx.structured:
        from .surgery import keep_vector

        removed = choose_structured(ctx, ctx._cost_scores, sparsity, ctx.removed)
        macs = flash = 0
        for layer in ctx.model.layers:
            kind = layer_type(layer)
            if kind not in PRODUCERS + DEPTHWISE:
                continue
            ws = {v.name: v.shape for v in layer.weights}
            shape = layer.output.shape
            pos = int(np.prod(shape[1:-1])) if len(shape) > 2 else 1
            cin = int(keep_vector(ctx.cg, ctx.cg.in_maps[layer.name][0], removed).sum())
            if kind in DEPTHWISE:
                k = int(np.prod(ws["kernel"][:-2])) * ws["kernel"][-1]
                macs += pos * k * cin
                flash += k * cin + (4 * cin * ws["kernel"][-1] if "bias" in ws else 0)
                continue
            cout = int(keep_vector(ctx.cg, np.array(ctx.cg.elements[layer.name]), removed).sum())
            if kind.startswith("Separable"):
                dk = ws["depthwise_kernel"]
                k = int(np.prod(dk[:-2])) * dk[-1]
                macs += pos * (k * cin + cin * dk[-1] * cout)
                flash += k * cin + cin * dk[-1] * cout
            else:
                k = int(np.prod(ws["kernel"][:-2]))
                macs += pos * k * cin * cout
                flash += k * cin * cout
            flash += 4 * cout if "bias" in ws else 0
        return macs, flash
    masks = choose_unstructured(ctx, ctx._cost_scores, sparsity, ctx.emasks)
    macs = flash = 0
    for layer in ctx.model.layers:
        if layer_type(layer) not in PRODUCERS + DEPTHWISE:
            continue
        shape = layer.output.shape
        pos = int(np.prod(shape[1:-1])) if len(shape) > 2 else 1
        for v in layer.weights:
            if v.name == "bias":
                flash += 4 * int(np.prod(v.shape))
            elif (layer.name, v.name) in masks:
                n = int(masks[(layer.name, v.name)].sum())
                macs, flash = macs + pos * n, flash + n
            elif v.name in ("kernel", "depthwise_kernel", "pointwise_kernel"):
                n = int(np.count_nonzero(np.asarray(v.numpy())))
                macs, flash = macs + pos * n, flash + n
    return macs, flash
