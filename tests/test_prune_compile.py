"""A structurally pruned model goes through mcc: Keras frontend (float IR == Keras), PTQ, C on the
host bit-exact with the numpy reference interpreter; and `mcc prune` on the command line."""

import warnings

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from prune_models import branchy, data  # noqa: E402
from test_ptq import compile_and_run, run_int8  # noqa: E402
from mcc.cli import main  # noqa: E402
from mcc.frontend.keras import load_keras  # noqa: E402
from mcc.ir import verify  # noqa: E402
from mcc.optimize.prune import PruneConfig, prune_model  # noqa: E402
from mcc.quantize_api import quantize_model  # noqa: E402
from mcc.reference import float_interp  # noqa: E402

warnings.filterwarnings("ignore", message="The structure of `inputs`")


@pytest.mark.slow
def test_pruned_model_compiles_bit_exact(tmp_path):
    x, y = data(64)
    res = prune_model(branchy(), PruneConfig(method="fpgm", sparsity=0.5, epochs=0, sensitivity_levels=()),
                      x, y, progress=False)
    path = tmp_path / "pruned.keras"
    res.model.save(path)
    g = verify(load_keras(keras.saving.load_model(path)))
    np.testing.assert_allclose(float_interp.run(g, [x[:8]])[0], np.asarray(res.masked_model(x[:8])),
                               rtol=0, atol=1e-4)
    conv_widths = [g.tensors[op.inputs[1]].shape[0] for op in g.ops if op.kind == "CONV_2D"]
    assert conv_widths[0] == 4                                   # the stem lost half its filters
    q = quantize_model(g, x, progress=False)
    xs = data(12, seed=7)[0]
    np.testing.assert_array_equal(compile_and_run(q, xs, tmp_path / "c"), run_int8(q, xs))


def _invoke(args):
    from click.testing import CliRunner

    return CliRunner().invoke(main, args)


@pytest.mark.slow
def test_cli_prune_writes_a_loadable_smaller_model(tmp_path):
    x, y = data(64)
    npz = tmp_path / "train.npz"
    np.savez(npz, x=x, y=y)
    src = tmp_path / "model.keras"
    branchy().save(src)
    out = tmp_path / "pruned.keras"
    r = _invoke(["prune", str(src), "--method", "l1", "--sparsity", "0.5", "--schedule", "oneshot",
                 "--train", str(npz), "--epochs", "0", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "achieved sparsity 50.0 % (channels)" in r.output and "tied to the model output" in r.output
    assert "sensitivity" in r.output
    m = keras.models.load_model(out)
    assert m.get_layer("stem").output.shape[-1] == 4
    verify(load_keras(out))


@pytest.mark.parametrize("extra,msg", [
    (["--sparsity", "1.0"], "sparsity must be in [0, 1), got 1.0"),
    (["--method", "l9"], "unknown pruning method 'l9'; valid: level, l1, l2"),
    (["--layers", "logits"], "cannot prune layer 'logits' structurally: tied to the model output"),
])
def test_cli_prune_errors(tmp_path, extra, msg):
    x, y = data(16)
    npz = tmp_path / "train.npz"
    np.savez(npz, x=x, y=y)
    src = tmp_path / "model.keras"
    branchy().save(src)
    r = _invoke(["prune", str(src), "--train", str(npz), "--epochs", "0", "-o", str(tmp_path / "o.keras"), *extra])
    assert r.exit_code == 2
    assert msg in r.output
