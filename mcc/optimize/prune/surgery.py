"""Channel masks and channel surgery on Keras 3 models.

``apply_channel_mask`` zeroes, in place on the optimizer's own copy, every parameter of a removed
channel (the producer's filter and bias, the depthwise filters and biases that follow it, the
BatchNormalization gamma and beta), so that the channel is exactly 0 wherever it flows (the graph
analysis pins channels through layers where 0 would not stay 0). ``shrink`` builds a NEW, smaller
Keras model (``keras.models.clone_model`` with smaller layer configs) and copies the kept slices
of every weight: producers lose output filters and the input rows of removed channels (Dense after
Flatten loses the matching flattened rows), depthwise and BatchNormalization follow their input,
Reshape keeps its channel count in step. Its outputs equal the masked model's (float rounding).
"""

from __future__ import annotations

import numpy as np

from .graph import DEPTHWISE, PRODUCERS, ChannelGraph, layer_type


def keep_vector(cg: ChannelGraph, m: np.ndarray, removed: set[int]) -> np.ndarray:
    """True for each channel of map ``m`` that stays (pinned channels always stay)."""
    return np.array([cg.cls(int(e)) not in removed for e in m], dtype=bool)


def _weights(layer) -> dict[str, np.ndarray]:
    return {v.name: np.asarray(v.numpy()) for v in layer.weights}


def _set(layer, values: dict[str, np.ndarray]):
    for v in layer.weights:
        v.assign(values[v.name])


def _slices(cg: ChannelGraph, layer, removed: set[int], ws: dict[str, np.ndarray]):
    """For each weight name: (keep mask of axis -2 or None, keep mask of axis -1 or None)."""
    kind = layer_type(layer)
    name = layer.name
    out: dict[str, tuple] = {}
    if kind in PRODUCERS:
        k_in = keep_vector(cg, cg.in_maps[name][0], removed)
        k_out = keep_vector(cg, np.array(cg.elements[name]), removed)
        if kind.startswith("Separable"):
            mult = ws["depthwise_kernel"].shape[-1]
            out["depthwise_kernel"] = (k_in, None)
            out["pointwise_kernel"] = (np.repeat(k_in, mult), k_out)
        else:
            out["kernel"] = (k_in, k_out)
        out["bias"] = (None, k_out)
    elif kind in DEPTHWISE:
        k_in = keep_vector(cg, cg.in_maps[name][0], removed)
        out["kernel"] = (k_in, None)
        out["bias"] = (None, np.repeat(k_in, ws["kernel"].shape[-1]))
    elif kind == "BatchNormalization":
        k = keep_vector(cg, cg.out_maps[name], removed)
        for w in ("gamma", "beta", "moving_mean", "moving_variance"):
            out[w] = (None, k)
    return {w: s for w, s in out.items() if w in ws}


def channel_masks(cg: ChannelGraph, model, removed: set[int]) -> list[tuple[object, np.ndarray]]:
    """(variable, 0/1 mask of its shape) for every parameter that a removed channel owns."""
    out = []
    for layer in model.layers:
        ws = _weights(layer)
        if not ws:
            continue
        by_name = {v.name: v for v in layer.weights}
        for w, (k_in, k_out) in _slices(cg, layer, removed, ws).items():
            if w in ("moving_mean", "moving_variance"):
                continue
            mask = np.ones(ws[w].shape, np.float32)
            if k_out is not None:
                mask[..., ~k_out] = 0.0
            depthwise = w == "depthwise_kernel" or (w == "kernel" and layer_type(layer) in DEPTHWISE)
            if depthwise:
                mask[..., ~k_in, :] = 0.0
            if not mask.all():
                out.append((by_name[w], mask))
    return out


def apply_masks(masks: list[tuple[object, np.ndarray]]):
    for v, m in masks:
        v.assign(np.asarray(v.numpy()) * m)


def apply_channel_mask(cg: ChannelGraph, model, removed: set[int]):
    """Zero every parameter of the removed channel classes (in place)."""
    apply_masks(channel_masks(cg, model, removed))


def shrink(cg: ChannelGraph, model, removed: set[int]):
    """A new Keras model without the removed channel classes (``model`` is not modified)."""
    import keras

    new_width: dict[str, int] = {}
    for p in cg.producers:
        new_width[p] = int(keep_vector(cg, np.array(cg.elements[p]), removed).sum())

    def clone(layer):
        cfg = layer.get_config()
        kind = layer_type(layer)
        if kind in PRODUCERS:
            cfg["units" if kind == "Dense" else "filters"] = new_width[layer.name]
        elif kind == "Reshape" and len(cfg["target_shape"]) > 1 and layer.name in cg.out_maps:
            k = keep_vector(cg, cg.in_maps[layer.name][0], removed)
            ts = list(cfg["target_shape"])
            ts[-1] = int(k.sum())
            cfg["target_shape"] = tuple(ts)
        return layer.__class__.from_config(cfg)

    inputs = [keras.Input(batch_shape=t.shape, dtype=t.dtype, name=t._keras_history.operation.name)
              for t in model.inputs]
    new = keras.models.clone_model(model, input_tensors=inputs if len(inputs) > 1 else inputs[0],
                                   clone_function=clone)
    for old_layer in model.layers:
        ws = _weights(old_layer)
        if not ws:
            continue
        new_layer = new.get_layer(old_layer.name)
        sl = _slices(cg, old_layer, removed, ws)
        vals = {}
        for w, a in ws.items():
            k_in, k_out = sl.get(w, (None, None))
            if k_out is not None:
                a = a[..., k_out]
            if k_in is not None:
                a = a[..., k_in, :]
            vals[w] = a
        _set(new_layer, vals)
    return new
