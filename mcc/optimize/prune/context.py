"""The pruning state shared by criteria, schedules and searches: the optimizer's own copy of the
model, the channel graph, the current masks, data samples, training and evaluation."""

from __future__ import annotations

import contextlib

import numpy as np

from .config import PruneConfig, PruneError
from .criteria import KERNELS, METHODS
from .graph import DEPTHWISE, PASS, PRODUCERS, ZERO_PRESERVING, activation_name, analyze, layer_type, topo_nodes
from .surgery import apply_masks, channel_masks


def working_copy(model):
    """A functional clone of ``model`` with the same weights (the user's model is never touched)."""
    import keras

    if isinstance(model, keras.Sequential):
        inp = keras.Input(batch_shape=model.inputs[0].shape, dtype=model.inputs[0].dtype, name="input")
        x = inp
        for layer in model.layers:
            x = layer.__class__.from_config(layer.get_config())(x)
        clone = keras.Model(inp, x, name=model.name)
    else:
        clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone


class Context:
    def __init__(self, model, config: PruneConfig, x, y, validation_data, trainer, progress: bool):
        from ..trainer import LabelTrainer

        self.config = config
        self.criterion = METHODS[config.method]
        self.structured = config.is_structured
        self.model = working_copy(model)
        self.x = np.asarray(x, np.float32) if x is not None else None
        self.y = np.asarray(y) if y is not None else None
        if self.x is not None and self.y is not None and len(self.x) != len(self.y):
            raise PruneError(f"x has {len(self.x)} examples but y has {len(self.y)}")
        self.validation_data = validation_data
        self.trainer = trainer if trainer is not None else LabelTrainer()
        self.show_progress = progress
        self.notes: list[str] = []
        self.cg = analyze(self.model) if self.structured else None
        self.removed: set[int] = set()                  # structured: removed channel classes
        self.emasks: dict[tuple[str, str], np.ndarray] = {}   # unstructured: (layer, weight) -> keep
        self._masks: list = []
        self.unit_sparsity: dict[str, float] | None = None     # set by the searches
        self._select_units()
        if self.criterion.needs_data and self.x is None:
            raise PruneError(f"method {config.method!r} ranks with data: pass training data x, y")

    # ------------------------------------------------------------------ units (what gets a ratio)
    def _select_units(self):
        cfg = self.config
        if self.structured:
            self.groups = self.cg.groups()
            prunable = {g: ps for g, ps in self.groups.items() if self.cg.group_reason(ps) is None}
            if cfg.layers is not None:
                owner = {p: g for g, ps in self.groups.items() for p in ps}
                chosen = {}
                for name in cfg.layers:
                    if name not in owner:
                        kinds = ", ".join(PRODUCERS)
                        known = {layer.name for layer in self.model.layers}
                        why = "no such layer" if name not in known else \
                            f"a {layer_type(self.model.get_layer(name))} has no filters of its own ({kinds} do)"
                        raise PruneError(f"cannot prune layer {name!r} structurally: {why}")
                    g = owner[name]
                    reason = self.cg.group_reason(self.groups[g])
                    if reason is not None:
                        raise PruneError(f"cannot prune layer {name!r} structurally: {reason}")
                    chosen[g] = prunable[g]
                prunable = chosen
            self.units = list(prunable)
            self.unit_members = prunable
        else:
            targets = self.targets()
            if cfg.layers is not None:
                names = {layer.name for layer, _ in targets}
                for name in cfg.layers:
                    if name not in names:
                        raise PruneError(f"cannot prune layer {name!r}: it has no convolution or dense kernel")
            self.units = [f"{layer.name}/{v.name}" for layer, v in targets]

    def producers(self) -> list[str]:
        return [p for u in self.units for p in self.unit_members[u]]

    def targets(self):
        """Unstructured: (layer, kernel variable) pairs to sparsify."""
        out = []
        for layer in self.model.layers:
            if self.config.layers is not None and layer.name not in self.config.layers:
                continue
            if layer_type(layer) in PRODUCERS + DEPTHWISE:
                out.extend((layer, v) for v in layer.weights if v.name in KERNELS)
        return out

    # ------------------------------------------------------------------ data, loss, training
    def note(self, msg: str):
        if msg not in self.notes:
            self.notes.append(msg)

    def sample(self):
        n = min(len(self.x), self.config.data_samples)
        idx = np.random.default_rng(self.config.seed).permutation(len(self.x))[:n]
        return self.x[idx], self.y[idx]

    def train_data(self):
        if self.x is None or self.y is None:
            raise PruneError("this method / schedule trains: pass training data x, y")
        return self.x, self.y

    def val(self):
        if self.validation_data is not None:
            xv, yv = self.validation_data
            n = min(len(xv), 2 * self.config.data_samples)
            return np.asarray(xv[:n], np.float32), np.asarray(yv[:n])
        if self.x is None:
            raise PruneError("search and sensitivity need data: pass x, y or validation_data")
        return self.sample()

    def loss(self, y, pred):
        import keras
        from ..trainer import _ends_in_softmax

        fn = keras.losses.SparseCategoricalCrossentropy(from_logits=not _ends_in_softmax(self.model))
        return fn(y, pred)

    def evaluate(self, model=None) -> tuple[float, float]:
        """(top-1 accuracy, mean loss) on the validation sample."""
        model = self.model if model is None else model
        xv, yv = self.val()
        preds = np.concatenate([np.asarray(model(xv[i:i + 256], training=False)) for i in range(0, len(xv), 256)])
        preds = preds.reshape(len(xv), -1)
        return float(np.mean(preds.argmax(1) == yv.reshape(-1))), float(self.loss(yv, preds))

    def mask_callback(self):
        import keras

        ctx = self

        class KeepMasks(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                ctx.reapply_masks()

        return KeepMasks()

    def train(self, epochs: int, callbacks=(), label: str = "fine-tuning"):
        if epochs <= 0:
            return None
        x, y = self.train_data()
        cbs = [self.mask_callback(), *callbacks]
        if self.show_progress:
            cbs.append(_RichEpochs(label, epochs))
        return self.trainer.fit(self.model, x, y, epochs=epochs, batch_size=self.config.batch_size,
                                callbacks=cbs, validation_data=None, verbose=0)

    @contextlib.contextmanager
    def progress(self, label: str, total: int):
        if not self.show_progress:
            yield lambda: None
            return
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task(label, total=total)
            yield lambda: bar.advance(task)

    # ------------------------------------------------------------------ activations
    def activation_tensors(self, producers):
        """The tensor after each producer's BatchNormalization / activation chain."""
        consumers: dict[int, list] = {}
        for layer, ins, outs in topo_nodes(self.model):
            for t in ins:
                consumers.setdefault(id(t), []).append((layer, outs))
        out = {}
        for p in producers:
            t = self.model.get_layer(p).output
            while True:
                cs = consumers.get(id(t), [])
                if len(cs) != 1:
                    break
                layer, outs = cs[0]
                kind = layer_type(layer)
                if kind in ("BatchNormalization", "ReLU", "LeakyReLU", "ELU") or (
                        kind == "Activation" and activation_name(layer) in ZERO_PRESERVING):
                    t = outs[0]
                else:
                    break
            out[p] = t
        return out

    # ------------------------------------------------------------------ masks
    def reapply_masks(self):
        apply_masks(self._masks)

    def set_masks(self):
        if self.structured:
            self._masks = channel_masks(self.cg, self.model, self.removed)
        else:
            by = {(layer.name, v.name): v for layer, v in self.targets()}
            self._masks = [(by[k], m.astype(np.float32)) for k, m in self.emasks.items() if not m.all()]
        self.reapply_masks()

    def admm_sparsities(self, structured: bool) -> dict[str, float]:
        s = self.unit_sparsity or {}
        if structured:
            return {p: s.get(u, self.config.sparsity) for u in self.units for p in self.unit_members[u]}
        return {u: s.get(u, self.config.sparsity) for u in self.units}


class _RichEpochs:
    """A rich progress bar over epochs and batches (a Keras callback)."""

    def __new__(cls, label, epochs):
        import keras
        from rich.progress import Progress

        class Bar(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.bar = Progress(transient=True)
                self.bar.start()
                steps = self.params.get("steps") or 1
                self.task = self.bar.add_task(label, total=epochs * steps)

            def on_train_batch_end(self, batch, logs=None):
                self.bar.advance(self.task)

            def on_train_end(self, logs=None):
                self.bar.stop()

        return Bar()
