"""Distillation trainers: the ``Trainer`` protocol (``mcc.optimize.trainer``) with a teacher.

``DistillTrainer(teacher, config).fit(student, x, y, ...)`` trains ``student`` in place (its own
layers, shared with a wrapper ``DistillModel`` whose ``train_step`` computes the distillation
loss), so it slots in wherever a ``LabelTrainer`` does: pruning fine-tuning, QAT, plain training.
Callbacks see the student as their ``model`` (pruning masks act on the student's layers).
The teacher is cloned: the caller's teacher is never modified, also in the online scheme (the
trained copy is ``DistillTrainer.teacher_``).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from ..trainer import _ends_in_softmax
from . import losses
from .config import DistillConfig, DistillError


def clone_model(model: keras.Model, name: str | None = None) -> keras.Model:
    """An independent copy of a Keras model (architecture and weights)."""
    c = keras.models.clone_model(model)
    c.set_weights(model.get_weights())
    return c


def _is_probs(model, setting: str) -> bool:
    if setting != "auto":
        return setting == "probs"
    graph = getattr(model, "graph", None)   # an mcc IR-backed model (QAT): its last op
    if graph is not None and getattr(graph, "ops", None):
        return graph.ops[-1].kind == "SOFTMAX"
    return bool(model.layers) and _ends_in_softmax(model)


def _layer_output(model: keras.Model, name: str, who: str):
    try:
        return model.get_layer(name).output
    except ValueError:
        names = [la.name for la in model.layers]
        shown = ", ".join(names[:25]) + (" ..." if len(names) > 25 else "")
        raise DistillError(f"{who} has no layer {name!r} (its layers: {shown})") from None


def _shape(t) -> tuple:
    return tuple(t.shape[1:])


def _io_shapes(model, in_shape: tuple | None = None) -> tuple[tuple | None, tuple]:
    """(input shape, output shape) without the batch; subclassed models (e.g. QAT) are run once on
    zeros of ``in_shape`` to learn their output shape."""
    try:
        return _shape(model.inputs[0]), _shape(model.outputs[0])
    except (AttributeError, ValueError, IndexError, TypeError):
        pass
    if in_shape is None:
        raise DistillError(f"cannot tell the input shape of {getattr(model, 'name', 'the model')}; "
                           "use a functional or Sequential Keras model")
    y = model(np.zeros((1,) + tuple(in_shape), np.float32), training=False)
    return None, tuple(y.shape[1:])


def check_compatible(teacher: keras.Model, student: keras.Model) -> None:
    """The teacher must take the student's input and produce the student's output shape."""
    try:
        ti, to = _io_shapes(teacher)
        si, so = _io_shapes(student, ti)
    except DistillError:
        si, so = _io_shapes(student)
        ti, to = _io_shapes(teacher, si)
    if to != so:
        raise DistillError(f"the teacher's output shape {to} differs from the student's {so}: "
                           "distillation needs both to predict the same classes")
    if ti is not None and si is not None and ti != si:
        raise DistillError(f"the teacher's input shape {ti} differs from the student's {si}")


def _adapter(s_shape: tuple, t_shape: tuple, name: str):
    """A learned map from a student feature to the teacher feature's shape (1x1 conv or dense)."""
    if len(s_shape) == 3 and len(t_shape) == 3:
        if s_shape[:2] != t_shape[:2]:
            raise DistillError(f"hint {name}: student feature map {s_shape} and teacher's {t_shape} differ "
                               "in height/width; choose layers of equal spatial size")
        a = layers.Conv2D(t_shape[2], 1, name=f"adapter_{name}")
    elif len(s_shape) == 1 and len(t_shape) == 1:
        a = layers.Dense(t_shape[0], name=f"adapter_{name}")
    else:
        raise DistillError(f"hint {name}: student feature {s_shape} and teacher feature {t_shape} must both "
                           "be feature maps (H, W, C) or both vectors (C,)")
    a.build((None,) + tuple(s_shape))
    return a


def _head(feat_shape: tuple, n_classes: int, name: str):
    """An auxiliary classifier (self-distillation) on a shallow feature."""
    seq = [layers.GlobalAveragePooling2D()] if len(feat_shape) == 3 else []
    if len(feat_shape) not in (1, 3):
        raise DistillError(f"self-distillation head on {name}: output {feat_shape} is not a feature map or vector")
    m = keras.Sequential(seq + [layers.Dense(n_classes)], name=f"head_{name}")
    m.build((None,) + tuple(feat_shape))
    return m


class DistillModel(keras.Model):
    """Student (+ teacher, adapters or auxiliary heads) trained with a distillation loss.

    ``call`` is the student; ``train_step`` / ``test_step`` compute the loss of the configured
    kind and scheme and report ``loss`` and the student's ``accuracy``."""

    def __init__(self, student: keras.Model, teacher: keras.Model | None, config: DistillConfig, **kw):
        super().__init__(**kw)
        c = self.cfg = config
        self.student = student
        self.teacher = teacher
        self.s_probs = _is_probs(student, c.student_outputs)
        self.t_probs = teacher is not None and _is_probs(teacher, c.teacher_outputs)
        s_feats, t_feats = [], []
        self.adapters = []
        self.heads = []
        if c.scheme == "self":
            self._build_self(student)
        else:
            if teacher is None:
                raise DistillError(f"the {c.scheme} scheme needs a teacher")
            check_compatible(teacher, student)
            for i, (tn, sn) in enumerate(c.hints):
                t_feats.append(_layer_output(teacher, tn, "the teacher"))
                s_feats.append(_layer_output(student, sn, "the student"))
                if c.kind == "feature":
                    self.adapters.append(_adapter(_shape(s_feats[-1]), _shape(t_feats[-1]), f"{i}_{sn}"))
            self.s_net = keras.Model(student.inputs, [student.outputs[0]] + s_feats) if s_feats else student
            self.t_net = keras.Model(teacher.inputs, [teacher.outputs[0]] + t_feats) if t_feats else teacher
            if c.scheme == "offline":
                teacher.trainable = False
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.acc = keras.metrics.SparseCategoricalAccuracy(name="accuracy")

    # -- self-distillation ---------------------------------------------------------------------
    def _build_self(self, student):
        names = self.cfg.heads or _default_heads(student)
        if not names:
            raise DistillError("self-distillation found no intermediate layer for an auxiliary head; "
                               "name some with heads=(...)")
        n_classes = int(_io_shapes(student)[1][-1])
        feats = [_layer_output(student, n, "the student") for n in names]
        penult = student.layers[-1].input if isinstance(student.layers[-1], layers.Dense) else None
        outs = [student.outputs[0]] + feats + ([penult] if penult is not None else [])
        self.s_net = keras.Model(student.inputs, outs)
        self.penult = penult is not None
        for n, f in zip(names, feats):
            h = _head(_shape(f), n_classes, n)
            self.heads.append(h)
            if self.cfg.kind == "feature":
                if penult is None:
                    raise DistillError("feature self-distillation matches the heads' pooled features to the "
                                       "input of the student's last Dense layer; the student does not end in one")
                pooled = (_shape(f)[-1],)
                self.adapters.append(_adapter(pooled, _shape(penult), n))

    def call(self, x, training=False):
        return self.student(x, training=training)

    @property
    def metrics(self):
        return [self.loss_tracker, self.acc]

    def _distill_term(self, s_out, t_out, s_feats, t_feats):
        """D(student <- teacher) of the configured kind (t_* already stop-gradient where needed)."""
        c = self.cfg
        if c.kind == "response":
            return losses.soft_loss(s_out, t_out, c.temperature)
        if c.kind == "feature":
            terms = [losses.hint_loss(a(s), t) for a, s, t in zip(self.adapters, s_feats, t_feats)]
            return sum(terms) / len(terms)
        if s_feats:
            terms = [losses.relation_loss(s, t, c.distance_weight, c.angle_weight) for s, t in zip(s_feats, t_feats)]
            return sum(terms) / len(terms)
        return losses.relation_loss(s_out, t_out, c.distance_weight, c.angle_weight)

    def compute_distill_loss(self, x, y, training: bool):
        """(total loss, student logits)."""
        c = self.cfg
        sg = ops.stop_gradient
        if c.scheme == "self":
            return self._self_loss(x, y, training)
        s = self.s_net(x, training=training)
        s = s if isinstance(s, (list, tuple)) else [s]
        online = c.scheme == "online"
        t = self.t_net(x, training=training and online)
        t = t if isinstance(t, (list, tuple)) else [t]
        s_log = losses.as_logits(s[0], self.s_probs)
        t_log = losses.as_logits(t[0], self.t_probs)
        d = self._distill_term(s_log, sg(t_log), s[1:], [sg(f) for f in t[1:]])
        loss = c.alpha * d + (1.0 - c.alpha) * losses.hard_loss(y, s_log)
        if online:  # mutual learning: the teacher learns from the labels and from the student too
            if c.kind == "feature":   # the hint pulls the teacher's feature towards the adapted student's
                d_t = sum(losses.hint_loss(sg(a(f)), tf) for a, f, tf in zip(self.adapters, s[1:], t[1:])) / len(s[1:])
            else:
                d_t = self._distill_term(t_log, sg(s_log), t[1:], [sg(f) for f in s[1:]])
            loss = loss + c.alpha * d_t + (1.0 - c.alpha) * losses.hard_loss(y, t_log)
        return loss, s_log

    def _self_loss(self, x, y, training):
        c = self.cfg
        sg = ops.stop_gradient
        outs = self.s_net(x, training=training)
        final = losses.as_logits(outs[0], self.s_probs)
        feats = outs[1:1 + len(self.heads)]
        loss = losses.hard_loss(y, final)
        for i, (h, f) in enumerate(zip(self.heads, feats)):
            h_log = h(f, training=training)
            if c.kind == "response":
                d = losses.soft_loss(h_log, sg(final), c.temperature)
            elif c.kind == "relation":
                d = losses.relation_loss(h_log, sg(final), c.distance_weight, c.angle_weight)
            else:
                pooled = ops.mean(f, axis=(1, 2)) if len(f.shape) == 4 else f
                d = losses.hint_loss(self.adapters[i](pooled), sg(outs[-1]))
            loss = loss + c.alpha * d + (1.0 - c.alpha) * losses.hard_loss(y, h_log)
        return loss, final

    def train_step(self, data):
        import tensorflow as tf

        x, y = data[0], data[1]
        with tf.GradientTape() as tape:
            loss, s_log = self.compute_distill_loss(x, y, training=True)
        variables = list({id(v): v for v in self.trainable_variables}.values())
        grads = tape.gradient(loss, variables)
        self.optimizer.apply_gradients([(g, v) for g, v in zip(grads, variables) if g is not None])
        return self._update(loss, y, s_log)

    def test_step(self, data):
        x, y = data[0], data[1]
        loss, s_log = self.compute_distill_loss(x, y, training=False)
        return self._update(loss, y, s_log)

    def _update(self, loss, y, s_log):
        self.loss_tracker.update_state(loss)
        self.acc.update_state(ops.reshape(y, (-1,)), s_log)
        return {"loss": self.loss_tracker.result(), "accuracy": self.acc.result()}


def _default_heads(student: keras.Model, n: int = 2) -> tuple[str, ...]:
    """Up to ``n`` evenly spaced layers with feature-map outputs (convolutions), before the last."""
    cands = [la.name for la in student.layers[:-1]
             if isinstance(la, (layers.Conv2D, layers.DepthwiseConv2D, layers.SeparableConv2D))]
    cands = cands[:-1] if len(cands) > 1 else cands
    if len(cands) <= n:
        return tuple(cands)
    idx = np.linspace(0, len(cands) - 1, n + 2)[1:-1].round().astype(int)
    return tuple(cands[i] for i in sorted(set(idx)))


class _StudentCallback(keras.callbacks.Callback):
    """Runs a caller's callback with the student as its ``model``; forwards ``stop_training``."""

    def __init__(self, inner, student, wrapper):
        super().__init__()
        self.inner, self.student, self.wrapper = inner, student, wrapper
        inner.set_model(student)

    def set_model(self, model):
        self.inner.set_model(self.student)

    def set_params(self, params):
        self.inner.set_params(params)


_HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
          "on_train_batch_end", "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end",
          "on_predict_begin", "on_predict_end", "on_predict_batch_begin", "on_predict_batch_end")


def _forward(name):
    def hook(self, *args, **kwargs):
        getattr(self.inner, name)(*args, **kwargs)
        if getattr(self.student, "stop_training", False):
            self.wrapper.stop_training = True
    hook.__name__ = name
    return hook


for _name in _HOOKS:
    setattr(_StudentCallback, _name, _forward(_name))


class DistillTrainer:
    """A ``Trainer`` whose loss distills ``teacher`` (cloned; None for the ``self`` scheme)."""

    def __init__(self, teacher: keras.Model | None = None, config: DistillConfig = DistillConfig()):
        if config.scheme == "self":
            if teacher is not None:
                raise DistillError("the self scheme distills the student's own final output; pass no teacher")
            self.teacher_ = None
        else:
            if teacher is None:
                raise DistillError(f"the {config.scheme} scheme needs a teacher model")
            self.teacher_ = clone_model(teacher)
        self.config = config
        self.wrapper_: DistillModel | None = None
        self.history_ = None
        self._compiled = False

    def _wrapper(self, model) -> DistillModel:
        """The wrapper of ``model``: kept while the student is the same object (repeated fits in
        iterative pruning go on with its adapters/heads and optimizer state), new for a new student
        (e.g. after channel surgery)."""
        if self.wrapper_ is None or self.wrapper_.student is not model:
            self.wrapper_ = DistillModel(model, self.teacher_, self.config)
            self._compiled = False
        return self.wrapper_

    def fit(self, model, x, y, *, epochs: int, batch_size: int, callbacks=(), validation_data=None, verbose=0):
        if y is None:
            raise DistillError("distillation needs labels y (the hard loss), got none")
        w = self._wrapper(model)
        if not self._compiled:
            w.compile(optimizer=keras.optimizers.Adam(self.config.learning_rate), jit_compile=False)
            self._compiled = True
        model.stop_training = False  # a stop requested in an earlier fit must not end this one
        cbs = [_StudentCallback(cb, model, w) for cb in callbacks]
        self.history_ = w.fit(x, np.asarray(y).reshape(len(y), -1)[:, 0], epochs=epochs, batch_size=batch_size,
                     callbacks=cbs, validation_data=validation_data, verbose=verbose)
        return self.history_

    def evaluate_loss(self, model, x, y, batch_size: int = 256) -> float:
        """The distillation loss of ``model`` on (x, y) (inference mode), e.g. before and after fit
        (the same wrapper, adapters and heads as ``fit`` uses for this student)."""
        w = self._wrapper(model)
        tot, n = 0.0, 0
        for i in range(0, len(x), batch_size):
            xb, yb = x[i:i + batch_size], np.asarray(y[i:i + batch_size]).reshape(-1)
            loss, _ = w.compute_distill_loss(ops.convert_to_tensor(xb), ops.convert_to_tensor(yb), training=False)
            tot += float(loss) * len(xb)
            n += len(xb)
        return tot / n


def distill(student: keras.Model, teacher: keras.Model | None, x, y, config: DistillConfig = DistillConfig(), *,
            epochs: int = 1, batch_size: int = 64, validation_data=None, callbacks=(), verbose=0):
    """Distill into a copy of ``student``; returns (new student, trainer). The user's models are
    left untouched (online: the trained teacher is ``trainer.teacher_``)."""
    trainer = DistillTrainer(teacher, config)
    s = clone_model(student)
    trainer.fit(s, x, y, epochs=epochs, batch_size=batch_size, callbacks=callbacks,
                validation_data=validation_data, verbose=verbose)
    return s, trainer
