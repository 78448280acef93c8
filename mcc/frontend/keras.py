"""Keras 3 model -> float32 mcc IR graph.

``load_keras(model)`` takes a ``keras.Model`` or a path to a ``.keras`` file, a legacy ``.h5``
file or a TF SavedModel directory written by Keras 2 (``model.save(dir)``), and returns a
verified float32 graph (NHWC, OHWI/1HWC/(out, in) weights, batch 1). By default the float passes
run on it (BatchNormalization folding, activation fusion, reshape cleanup; see
``mcc.passes.pipeline.FLOAT_PASSES``).

Layers are translated by a registry keyed by layer class (``keras_layers.TRANSLATORS``); a
subclass uses its nearest registered base class. The user's model is never modified: weights are
copied out of it.

Legacy files:
- ``.h5`` from Keras 2 may hold DepthwiseConv2D configs with a ``groups`` key, which Keras 3
  rejects; they load through ``LegacyDepthwiseConv2D``, a subclass that drops ``groups`` (it must
  be 1) and is otherwise the Keras 3 layer.
- A Keras 2 SavedModel directory cannot be rebuilt by Keras 3 (``TFSMLayer`` gives an opaque
  layer). mcc reads the Keras model config stored in the SavedModel's object graph, rebuilds the
  model with Keras 3's legacy config reader and loads every variable from the checkpoint in
  ``variables/`` by its object-graph path. SavedModels without Keras metadata are refused.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import ModelFormatError, UnsupportedOperatorError
from ..ir import Graph, verify
from .keras_build import GraphBuilder, where
from .keras_layers import supported_layers, translator_for

_LEGACY: dict[str, type] = {}


def legacy_objects() -> dict[str, type]:
    """custom_objects for Keras 2 configs: {"DepthwiseConv2D": LegacyDepthwiseConv2D}."""
    if not _LEGACY:
        import keras

        class LegacyDepthwiseConv2D(keras.layers.DepthwiseConv2D):
            """Keras 3 DepthwiseConv2D accepting (and dropping) the Keras 2 ``groups=1`` key."""

            def __init__(self, *args, groups=1, **kwargs):
                if groups not in (1, None):
                    raise ValueError(f"DepthwiseConv2D with groups={groups} is not supported")
                super().__init__(*args, **kwargs)

        _LEGACY["DepthwiseConv2D"] = LegacyDepthwiseConv2D
    return dict(_LEGACY)


def _keras():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    try:
        import keras
    except ImportError:  # pragma: no cover - keras is a dev dependency
        raise ModelFormatError("reading Keras models needs `keras` (pip install mcc[dev])") from None
    return keras


def read_model(path: str | Path):
    """Load a Keras model from ``.keras``, ``.h5`` or a Keras 2 SavedModel directory."""
    keras = _keras()
    p = Path(path)
    if not p.exists():
        raise ModelFormatError(f"{p}: no such file or directory")
    try:
        if p.is_dir():
            return _read_savedmodel(p)
        suffix = p.suffix.lower()
        if suffix == ".keras":
            return keras.saving.load_model(p, compile=False)
        if suffix in (".h5", ".hdf5"):
            return keras.saving.load_model(p, compile=False, custom_objects=legacy_objects())
    except ModelFormatError:
        raise
    except Exception as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise ModelFormatError(f"{p}: cannot load the Keras model ({type(e).__name__}: {msg[:200]})") from None
    raise ModelFormatError(f"{p}: not a Keras model (expected a .keras or .h5 file or a SavedModel directory)")


def _read_savedmodel(p: Path):
    from keras.src.legacy.saving import json_utils, saving_utils
    from tensorflow.core.protobuf import saved_model_pb2
    import tensorflow as tf

    pb = p / "saved_model.pb"
    if not pb.is_file():
        raise ModelFormatError(f"{p}: a directory without saved_model.pb is not a SavedModel")
    sm = saved_model_pb2.SavedModel()
    sm.ParseFromString(pb.read_bytes())
    graph = sm.meta_graphs[0].object_graph_def
    root = graph.nodes[0]
    if root.WhichOneof("kind") != "user_object" or not root.user_object.metadata:
        raise ModelFormatError(f"{p}: the SavedModel holds no Keras model metadata; export the model "
                               "from Keras as .keras or .h5")
    cfg = json_utils.decode(root.user_object.metadata)
    model = saving_utils.model_from_config({"class_name": cfg["class_name"], "config": cfg["config"]},
                                           custom_objects=legacy_objects())
    reader = tf.train.load_checkpoint(str(p / "variables" / "variables"))
    layers = {layer.name: layer for layer in model.layers}
    assigned = set()
    for child in root.children:
        if not child.local_name.startswith("layer_with_weights-"):
            continue
        node = graph.nodes[child.node_id]
        name = json.loads(node.user_object.metadata)["name"]
        layer = layers[name]
        by_name = {w.path.split("/")[-1]: w for w in layer.weights}
        if "kernel" in by_name:  # Keras 2 depthwise_kernel is Keras 3 kernel
            by_name.setdefault("depthwise_kernel", by_name["kernel"])
        for var in node.children:
            key = f"{child.local_name}/{var.local_name}/.ATTRIBUTES/VARIABLE_VALUE"
            if reader.has_tensor(key) and var.local_name in by_name:
                by_name[var.local_name].assign(reader.get_tensor(key))
                assigned.add(id(by_name[var.local_name]))
    missing = [w.path for w in model.weights if id(w) not in assigned]
    if missing:
        raise ModelFormatError(f"{p}: the checkpoint has no value for {missing[0]}")
    return model


def _shape(kt, what: str) -> tuple[int, ...]:
    dims = list(kt.shape)
    if not dims:
        raise ModelFormatError(f"{what} is a scalar")
    dims[0] = 1 if dims[0] is None else dims[0]
    if any(d is None for d in dims):
        raise ModelFormatError(f"{what} has a dynamic shape {tuple(kt.shape)}; mcc needs fixed sizes "
                               "(give keras.Input a full shape)")
    return tuple(int(d) for d in dims)


class _Converter:
    def __init__(self, source: str):
        self.b = GraphBuilder()
        self.env: dict[int, str] = {}
        self.source = source
        self.layers = 0

    def translate_node(self, op, node, ins: list[str]) -> list[str]:
        keras = _keras()
        if isinstance(op, keras.Model):  # a nested model: inline this call of it
            outer = self.env
            self.env = {id(kt): name for kt, name in zip(op.inputs, ins)}
            try:
                return [self.value(kt) for kt in op.outputs]
            finally:
                self.env = outer
        if isinstance(op, keras.layers.InputLayer):
            raise ModelFormatError(f"{self.source}: input {op.name!r} is not an input of the model")
        tr = translator_for(op)
        if tr is None:
            raise UnsupportedOperatorError(
                f"{self.source}: {where(op)} is not supported; supported layers: "
                f"{', '.join(supported_layers())}")
        self.layers += 1
        outs = tr(self.b, op, ins)
        for kt, name in zip(node.output_tensors, outs):
            want = _shape(kt, where(op))
            if self.b.shape(name) != want:  # a translator bug, not a user error
                raise RuntimeError(f"{where(op)}: IR shape {self.b.shape(name)} != Keras shape {want}")
        return outs

    def value(self, kt) -> str:
        """The IR name of a Keras tensor, translating what it depends on (iteratively, post-order)."""
        stack = [kt]
        while stack:
            top = stack[-1]
            if id(top) in self.env:
                stack.pop()
                continue
            op, node_index, _ = top._keras_history
            if op is None:
                raise ModelFormatError(f"{self.source}: tensor {top.name!r} has no producer")
            node = op._inbound_nodes[node_index]
            pending = [t for t in node.input_tensors if id(t) not in self.env]
            if pending:
                stack.extend(reversed(pending))
                continue
            outs = self.translate_node(op, node, [self.env[id(t)] for t in node.input_tensors])
            for t, name in zip(node.output_tensors, outs):
                self.env[id(t)] = name
            stack.pop()
        return self.env[id(kt)]


def keras_to_ir(model, source: str = "<keras model>") -> Graph:
    """Translate a built Keras model (functional or sequential) into a float32 IR graph."""
    keras = _keras()
    from keras.src.models.functional import Functional

    if not isinstance(model, keras.Model):
        raise ModelFormatError(f"{source}: not a keras.Model")
    if not isinstance(model, (Functional, keras.Sequential)):
        raise ModelFormatError(f"{source}: a subclassed keras.Model ({type(model).__name__}) has no layer "
                               "graph to read; build the model with the functional API or keras.Sequential")
    try:
        inputs, outputs = list(model.inputs), list(model.outputs)
    except (AttributeError, ValueError, TypeError):
        raise ModelFormatError(f"{source}: the model is not built (give it a keras.Input)") from None
    if len(inputs) != 1:
        raise ModelFormatError(f"{source}: the model has {len(inputs)} inputs; mcc supports exactly one")
    if len(outputs) != 1:
        raise ModelFormatError(f"{source}: the model has {len(outputs)} outputs; mcc supports exactly one")
    conv = _Converter(source)
    kt = inputs[0]
    if not str(kt.dtype).startswith(("float", "bfloat")):
        raise UnsupportedOperatorError(f"{source}: model input has dtype {kt.dtype}; only float inputs "
                                       "are supported")
    name = conv.b.input(kt.name or "input", _shape(kt, "the model input"))
    conv.env[id(kt)] = name
    out = conv.value(outputs[0])
    g = conv.b.graph([name], [out], {"source": source, "format": "keras", "keras_layers": conv.layers})
    return verify(g)


def load_keras(model, optimize: bool = True) -> Graph:
    """A Keras model (object or path) as a verified float32 IR graph.

    ``optimize`` runs the float passes (fold_bn, fuse_activation, simplify). Raises
    ModelFormatError / UnsupportedOperatorError (MccError) on bad input.
    """
    if isinstance(model, (str, Path)):
        source = str(model)
        model = read_model(model)
    else:
        source = getattr(model, "name", "<keras model>")
    g = keras_to_ir(model, source)
    if optimize:
        from ..passes.pipeline import run_float_passes
        g = run_float_passes(g)
    return g

