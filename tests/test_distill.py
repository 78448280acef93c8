"""Distillation trainers: every kind and scheme trains and lowers its loss, plugs into the trainer
protocol (callbacks see the student), never modifies the caller's models, and rejects bad input."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")
from keras import layers  # noqa: E402

from mcc.optimize.distill import DistillConfig, DistillError, DistillTrainer, distill  # noqa: E402
from mcc.optimize.trainer import LabelTrainer  # noqa: E402


def _data(n=256, seed=0):
    protos = np.random.default_rng(99).normal(size=(4, 8, 8, 1))   # one pattern per class, plus noise
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    x = (protos[y] + 1.2 * rng.normal(size=(n, 8, 8, 1))).astype(np.float32)
    return x, y


def cnn(width, name, softmax=False, seed=1, classes=4):
    keras.utils.set_random_seed(seed)
    i = keras.Input((8, 8, 1))
    h = layers.Conv2D(width, 3, padding="same", activation="relu", name="c1")(i)
    h = layers.Conv2D(width, 3, padding="same", activation="relu", name="c2")(h)
    h = layers.Flatten(name="flat")(h)
    out = layers.Dense(classes, activation="softmax" if softmax else None, name="out")(h)
    return keras.Model(i, out, name=name)


@pytest.fixture(scope="module")
def data():
    return _data()


@pytest.fixture(scope="module")
def teacher(data):
    t = cnn(16, "teacher", softmax=True)
    LabelTrainer(3e-3).fit(t, *data, epochs=6, batch_size=32)
    return t


CASES = [
    DistillConfig(),
    DistillConfig(kind="feature", hints=(("c2", "c2"),), alpha=0.5),
    DistillConfig(kind="relation", alpha=0.5),
    DistillConfig(scheme="online"),
    DistillConfig(kind="feature", scheme="online", hints=(("c1", "c1"),), alpha=0.5),
    DistillConfig(kind="relation", scheme="online", alpha=0.5),
    DistillConfig(scheme="self", heads=("c1",)),
    DistillConfig(kind="feature", scheme="self", alpha=0.5),
    DistillConfig(kind="relation", scheme="self", alpha=0.5),
]


@pytest.mark.slow
@pytest.mark.parametrize("cfg", CASES, ids=lambda c: f"{c.kind}-{c.scheme}-{len(c.hints)}")
def test_each_kind_and_scheme_reduces_its_loss(cfg, data, teacher):
    x, y = data
    t_before = [w.copy() for w in teacher.get_weights()]
    trainer = DistillTrainer(None if cfg.scheme == "self" else teacher,
                             DistillConfig(**{**cfg.__dict__, "learning_rate": 3e-3 if cfg.scheme == "offline" else 1e-3}))
    student = cnn(4, "student", seed=2)
    n_params = student.count_params()
    before = trainer.evaluate_loss(student, x, y)
    hist = trainer.fit(student, x, y, epochs=3, batch_size=32).history["loss"]
    if cfg.scheme == "offline":
        # the same loss (frozen teacher; the student and its adapters trained), in inference mode
        after = trainer.evaluate_loss(student, x, y)
        assert after < 0.9 * before, (before, after)
    else:
        # the target moves (the teacher or the network itself learns): at the default learning rate
        # the epoch losses go down
        assert hist[-1] < 0.9 * hist[0], hist
    assert np.mean(student.predict(x, verbose=0).argmax(1) == y) > 0.5  # well above chance (0.25)
    assert all(np.array_equal(a, b) for a, b in zip(t_before, teacher.get_weights())), "user's teacher modified"
    if cfg.scheme == "online":  # the teacher's copy learned too
        assert any(not np.array_equal(a, b) for a, b in zip(t_before, trainer.teacher_.get_weights()))
    assert student.count_params() == n_params  # adapters and heads stay out of the student


def test_distill_trains_a_copy(data, teacher):
    x, y = data
    student = cnn(4, "student", seed=2)
    s_before = [w.copy() for w in student.get_weights()]
    new, trainer = distill(student, teacher, x[:64], y[:64], DistillConfig(scheme="online"), epochs=1, batch_size=32)
    assert new is not student and trainer.teacher_ is not teacher
    assert all(np.array_equal(a, b) for a, b in zip(s_before, student.get_weights()))
    assert any(not np.array_equal(a, b) for a, b in zip(s_before, new.get_weights()))


def test_offline_response_student_learns_from_the_teacher(data, teacher):
    x, y = data
    xt, yt = _data(512, seed=5)
    accs = {}
    for how in ("labels", "distill"):
        s = cnn(4, "student", seed=3)
        if how == "labels":
            LabelTrainer(3e-3).fit(s, x, y, epochs=6, batch_size=32)
        else:
            DistillTrainer(teacher, DistillConfig(learning_rate=3e-3)).fit(s, x, y, epochs=6, batch_size=32)
        accs[how] = np.mean(s.predict(xt, verbose=0).argmax(1) == yt)
    t_acc = np.mean(teacher.predict(xt, verbose=0).argmax(1) == yt)
    assert t_acc > 0.8
    assert accs["distill"] > 0.6, (t_acc, accs)  # learned well above chance (0.25) from the teacher


def test_callbacks_see_the_student_and_can_stop(data, teacher):
    x, y = data
    seen = []

    class Spy(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(self.model)
            if batch == 2:
                self.model.stop_training = True

    s = cnn(4, "student")
    h = DistillTrainer(teacher).fit(s, x, y, epochs=3, batch_size=32, callbacks=[Spy()])
    assert seen and all(m is s for m in seen)
    assert len(seen) == 3 and len(h.history["loss"]) == 1  # stopped after the third batch


def test_validation_data_reports_student_accuracy(data, teacher):
    x, y = data
    s = cnn(4, "student")
    h = DistillTrainer(teacher).fit(s, x, y, epochs=1, batch_size=64, validation_data=(x[:64], y[:64]))
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(h.history)


def test_teacher_with_other_output_shape_is_rejected(teacher):
    with pytest.raises(DistillError, match=r"teacher's output shape \(4,\) differs from the student's \(3,\)"):
        DistillTrainer(teacher).fit(cnn(4, "s", classes=3), *_data(8), epochs=1, batch_size=8)


@pytest.mark.parametrize("cfg,msg", [
    (DistillConfig(kind="feature", hints=(("c2", "nope"),)), "the student has no layer 'nope' \\(its layers: "),
    (DistillConfig(kind="feature", hints=(("flat", "c2"),)), "must both be feature maps"),
    (DistillConfig(kind="feature", hints=(("c2", "pool"),)), "differ in height/width"),
])
def test_bad_hints(teacher, cfg, msg):
    i = keras.Input((8, 8, 1))
    h = layers.MaxPooling2D(name="pool")(layers.Conv2D(4, 3, padding="same", name="c2")(i))
    s = keras.Model(i, layers.Dense(4)(layers.GlobalAveragePooling2D()(h)))
    with pytest.raises(DistillError, match=msg):
        DistillTrainer(teacher, cfg).fit(s, *_data(8), epochs=1, batch_size=8)


def test_scheme_teacher_errors(teacher):
    with pytest.raises(DistillError, match="pass no teacher"):
        DistillTrainer(teacher, DistillConfig(scheme="self"))
    with pytest.raises(DistillError, match="offline scheme needs a teacher"):
        DistillTrainer(None, DistillConfig())
    with pytest.raises(DistillError, match="needs labels"):
        DistillTrainer(teacher).fit(cnn(4, "s"), _data(8)[0], None, epochs=1, batch_size=8)


def test_distillation_is_the_loss_of_qat_fine_tuning(data, teacher):
    """A QAT model (subclassed keras.Model over mcc's IR) trains with the distillation trainer."""
    from mcc.optimize.qat import export, qat_model

    x, y = data
    student = cnn(4, "student", softmax=True, seed=4)
    LabelTrainer(3e-3).fit(student, x, y, epochs=1, batch_size=32)
    qat = qat_model(student, calib_data=x)
    trainer = DistillTrainer(teacher, DistillConfig(learning_rate=1e-3))
    before = trainer.evaluate_loss(qat, x, y)
    trainer.fit(qat, x, y, epochs=2, batch_size=32)
    assert trainer.evaluate_loss(qat, x, y) < before
    g = export(qat)  # still exports to an int8 graph
    assert g.tensors[g.outputs[0]].shape[-1] == 4


def test_repeated_fits_of_one_student_keep_the_adapters(data, teacher):
    x, y = data
    s = cnn(4, "student")
    tr = DistillTrainer(teacher, DistillConfig(kind="feature", hints=(("c2", "c2"),)))
    tr.fit(s, x[:64], y[:64], epochs=1, batch_size=32)
    w1, a1 = tr.wrapper_, tr.wrapper_.adapters[0]
    tr.fit(s, x[:64], y[:64], epochs=1, batch_size=32)
    assert tr.wrapper_ is w1 and tr.wrapper_.adapters[0] is a1
    s2 = cnn(4, "student2")
    tr.fit(s2, x[:64], y[:64], epochs=1, batch_size=32)
    assert tr.wrapper_.student is s2
