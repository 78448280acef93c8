"""Pruning (mcc.optimize.prune): every criterion reaches its sparsity, channel surgery equals the
masked model (BN, depthwise, Add, Concatenate, Dense after Flatten), the user's model is untouched,
the pruned model compiles with mcc bit-exactly, and every bad input gives a clear error."""

import warnings

import numpy as np
import pytest

keras = pytest.importorskip("keras")
from keras import layers  # noqa: E402

from prune_models import branchy, data  # noqa: E402
from mcc.errors import MccError  # noqa: E402
from mcc.optimize.prune import METHODS, PruneConfig, PruneError, prune_model  # noqa: E402
from mcc.optimize.prune.graph import analyze  # noqa: E402
from mcc.optimize.prune.surgery import apply_channel_mask, shrink  # noqa: E402

warnings.filterwarnings("ignore", message="The structure of `inputs`")


@pytest.fixture(scope="module")
def model():
    return branchy()


@pytest.fixture(scope="module")
def xy():
    return data()


class EagerTrainer:
    """LabelTrainer's loss and optimizer, run eagerly: a few batches train faster than tracing."""

    def fit(self, model, x, y, *, epochs, batch_size, callbacks=(), validation_data=None, verbose=0):
        model.compile(optimizer=keras.optimizers.Adam(1e-3), run_eagerly=True,
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        return model.fit(x, y, epochs=epochs, batch_size=batch_size, callbacks=list(callbacks), verbose=0)


def _fast(**kw):
    base = dict(epochs=0, batch_size=64, reg_epochs=1, sensitivity_levels=(), data_samples=128)
    base.update(kw)
    return PruneConfig(**base)


def test_channel_groups(model):
    cg = analyze(model)
    groups = cg.groups()
    assert groups["pw"] == ["pw", "shortcut"]            # tied by the Add
    assert cg.group_reason(groups["logits"]) == "tied to the model output"
    assert {g for g, ps in groups.items() if cg.group_reason(ps) is None} == {"stem", "pw", "sep", "conv", "fc"}
    # Concatenate: the sep channels first, then the Add group's (through the MaxPool), by offset
    concat = cg.class_map(cg.out_maps["concat"])
    assert list(concat[:10]) == [cg.cls(e) for e in cg.elements["sep"]]
    assert list(concat[10:]) == [cg.cls(e) for e in cg.elements["pw"]]


@pytest.mark.parametrize("seed", [0, 1])
def test_surgery_equals_masked_model(model, seed):
    work = keras.models.clone_model(model)
    work.set_weights(model.get_weights())
    cg = analyze(work)
    rng = np.random.default_rng(seed)
    removed = set()
    for ps in cg.groups().values():
        cl = cg.prunable_classes(ps)
        removed |= set(rng.choice(cl, len(cl) // 2, replace=False).tolist()) if cl else set()
    y_before = np.asarray(work(data(8, seed=3)[0]))
    apply_channel_mask(cg, work, removed)
    small = shrink(cg, work, removed)
    x = data(16, seed=4)[0]
    y_masked, y_small = np.asarray(work(x)), np.asarray(small(x))
    np.testing.assert_allclose(y_small, y_masked, rtol=0, atol=1e-5 * max(1.0, np.abs(y_masked).max()))
    assert not np.allclose(np.asarray(work(data(8, seed=3)[0])), y_before)   # the mask did change it
    widths = {layer.name: layer.output.shape[-1] for layer in small.layers}
    assert widths["stem"] == 4 and widths["pw"] == widths["shortcut"] == widths["add"] == 6
    assert widths["concat"] == 5 + 6 and widths["fc"] == 10 and widths["logits"] == 5
    assert small.get_layer("fc").get_weights()[0].shape == (6 * 6 * 8, 10)   # flattened rows removed
    assert small.count_params() < work.count_params() / 2


TRAINING_METHODS = ("slim", "admm", "movement")      # they train before ranking


@pytest.mark.parametrize("method", [pytest.param(m, marks=pytest.mark.slow) if m in TRAINING_METHODS else m
                                    for m in METHODS])
def test_each_criterion_reaches_its_sparsity(model, xy, method):
    before = [w.copy() for w in model.get_weights()]
    x, y = xy
    res = prune_model(model, _fast(method=method, sparsity=0.5), x, y, trainer=EagerTrainer(), progress=False)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))    # untouched
    assert res.structured == METHODS[method].structured
    if res.structured:
        assert abs(res.sparsity - 0.5) < 0.05
        rows = {r.name: r for r in res.layers}
        assert rows["stem"].after == 4 and rows["logits"].after == 5
        assert rows["logits"].reason == "tied to the model output"
        assert res.macs[1] < 0.5 * res.macs[0] and res.flash[1] < 0.5 * res.flash[0]
    else:
        kernels = [v.numpy() for layer in res.model.layers for v in layer.weights
                   if v.name in ("kernel", "depthwise_kernel", "pointwise_kernel")]
        zeros = sum((k == 0).sum() for k in kernels) / sum(k.size for k in kernels)
        assert abs(res.sparsity - 0.5) < 0.01 and abs(zeros - 0.5) < 0.01
        assert [tuple(w.shape) for w in res.model.get_weights()] == [tuple(w.shape) for w in before]
    xt = x[:16]
    np.testing.assert_allclose(np.asarray(res.model(xt)), np.asarray(res.masked_model(xt)), rtol=0, atol=1e-4)


def test_structured_l1_picks_the_smallest_filters():
    inp = keras.Input((6, 6, 2))
    h = layers.Conv2D(4, 1, use_bias=False, name="a")(inp)
    out = layers.Dense(3, name="out")(layers.Flatten()(h))
    m = keras.Model(inp, out)
    w = np.zeros((1, 1, 2, 4), np.float32)
    w[0, 0, :, :] = [[0.1, 5.0, -0.2, 3.0], [0.1, 1.0, 0.1, -2.0]]
    m.get_layer("a").set_weights([w])
    res = prune_model(m, _fast(method="l1", sparsity=0.5), progress=False)
    np.testing.assert_array_equal(res.model.get_layer("a").get_weights()[0], w[..., [1, 3]])


@pytest.mark.slow
def test_unstructured_masks_survive_fine_tuning():
    """Through the default LabelTrainer: the mask callback reaches keras.Model.fit."""
    keras.utils.set_random_seed(0)
    inp = keras.Input((6, 6, 3))
    h = layers.Conv2D(6, 3, activation="relu", name="c")(inp)
    m = keras.Model(inp, layers.Dense(5, name="fc")(layers.Flatten()(h)))
    x, y = data(128, shape=(6, 6, 3))
    res = prune_model(m, _fast(method="level", sparsity=0.7, epochs=1), x, y, progress=False)
    k = res.model.get_layer("fc").get_weights()[0]
    assert abs((k == 0).mean() - 0.7) < 0.01
    assert not np.array_equal(k, m.get_layer("fc").get_weights()[0] * (k != 0))   # it trained


@pytest.mark.slow
@pytest.mark.parametrize("schedule", ["linear", "agp", "lottery"])
def test_schedules_reach_the_target(model, xy, schedule):
    x, y = xy
    res = prune_model(model, _fast(method="l2", sparsity=0.5, schedule=schedule, epochs=1, steps=3, rounds=2),
                      x, y, trainer=EagerTrainer(), progress=False)
    assert abs(res.sparsity - 0.5) < 0.05


def test_agp_fraction_is_cubic():
    from mcc.optimize.prune.schedules import agp_fraction

    assert agp_fraction(0, 4) == 0.0 and agp_fraction(4, 4) == 1.0
    assert agp_fraction(2, 4) == pytest.approx(1 - 0.5 ** 3)


@pytest.mark.slow
@pytest.mark.parametrize("schedule", ["annealing", "amc", "auto_compress"])
def test_searches_meet_the_budget(model, xy, schedule):
    from mcc.optimize.prune.costs import totals

    x, y = xy
    cfg = _fast(method="l1", sparsity=0.5, schedule=schedule, search_evals=5, budget="macs")
    res = prune_model(model, cfg, x, y, trainer=EagerTrainer(), progress=False)
    uniform = prune_model(model, _fast(method="l1", sparsity=0.5), progress=False)
    assert res.macs[1] <= totals(uniform.model)[0] * 1.02     # within the budget of uniform pruning
    assert len(res.search_log) == 5 and set(res.unit_sparsity) == {"stem", "pw", "sep", "conv", "fc"}


def test_sensitivity_reported(model, xy):
    x, y = xy
    res = prune_model(model, _fast(method="l1", sparsity=0.25, sensitivity_levels=(0.5, 0.75)), x, y,
                      progress=False)
    units = {r.unit for r in res.sensitivity}
    assert units == {"stem", "pw", "sep", "conv", "fc"}
    assert len(res.sensitivity) == 5 * 3
    assert all(0.0 <= r.accuracy <= 1.0 and np.isfinite(r.loss) for r in res.sensitivity)


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize("s", [1.0, -0.1, 1.5])
def test_sparsity_outside_range(s):
    with pytest.raises(PruneError, match=r"sparsity must be in \[0, 1\)"):
        PruneConfig(sparsity=s)


def test_unknown_method_lists_the_valid_ones():
    with pytest.raises(MccError, match="unknown pruning method 'l3'; valid: level, l1, l2, fpgm, slim, apoz"):
        PruneConfig(method="l3")


def test_unknown_schedule_and_incompatible_mode():
    with pytest.raises(PruneError, match="unknown pruning schedule 'cosine'"):
        PruneConfig(schedule="cosine")
    with pytest.raises(PruneError, match="'level' ranks single weights"):
        PruneConfig(method="level", structured=True)
    with pytest.raises(PruneError, match="'apoz' ranks channels"):
        PruneConfig(method="apoz", structured=False)


def test_unprunable_layers_say_why(model):
    with pytest.raises(PruneError, match="cannot prune layer 'logits' structurally: tied to the model output"):
        prune_model(model, _fast(layers=("logits",)), progress=False)
    with pytest.raises(PruneError, match="'stem_bn' structurally: a BatchNormalization has no filters"):
        prune_model(model, _fast(layers=("stem_bn",)), progress=False)
    with pytest.raises(PruneError, match="'nope' structurally: no such layer"):
        prune_model(model, _fast(layers=("nope",)), progress=False)
    inp = keras.Input((4, 4, 2))
    h = layers.Conv2D(3, 1, activation="sigmoid", name="gate")(inp)
    m = keras.Model(inp, layers.Dense(2)(layers.Flatten()(h)))
    with pytest.raises(PruneError, match="'gate' structurally: gate has activation sigmoid"):
        prune_model(m, _fast(layers=("gate",)), progress=False)


def test_only_selected_layers_are_pruned(model):
    res = prune_model(model, _fast(layers=("sep",)), progress=False)
    rows = {r.name: r for r in res.layers}
    assert rows["sep"].after == 5 and rows["stem"].after == 8
    assert rows["stem"].reason == "not selected (PruneConfig.layers)"


def test_data_criteria_need_data(model):
    with pytest.raises(PruneError, match="'taylor' ranks with data"):
        prune_model(model, _fast(method="taylor"), progress=False)
