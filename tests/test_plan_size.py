"""Predicted flash and SRAM (mcc.planner.cost: a cached skeleton build + a replay of the linker's
placement with the real weight and arena sizes) equal the linker map of the real firmware, on every
MLPerf model x every QEMU board, and on a mixed-width model."""

import numpy as np
import pytest

from conftest import MLPERF

from mcc import api
from mcc.options import CompileOptions
from mcc.passes.weight_bits import WEIGHT_AXIS, set_weight_bits, weight_ops
from mcc.planner.cost import predict_graph, skeleton_files, weight_arrays
from mcc.sim import qemu
from mcc.targets_cm import qemu_boards

pytestmark = pytest.mark.skipif(not qemu.shutil.which("arm-none-eabi-gcc"), reason="no arm-none-eabi-gcc")
BOARDS = [b for b in qemu_boards() if b.startswith(("mps2", "mps3"))]


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("MCC_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "mcc-cache"))


@pytest.fixture(scope="module")
def graphs():
    return {name: api.load_model(path) for name, path in MLPERF.items()}


def _linker(g, board, out):
    r = api.compile_graph(g, out, CompileOptions(target=board, force=True))
    qemu.build_firmware(r.outdir)
    return qemu.firmware_size(r.outdir)


def test_boards_cover_the_test_boards():
    assert set(BOARDS) == {"mps2-an385", "mps2-an386", "mps2-an500", "mps2-an505", "mps3-an547"}


@pytest.mark.slow
@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("model", sorted(MLPERF))
def test_predicted_equals_linker(graphs, model, board, tmp_path):
    g = graphs[model]
    p = predict_graph(g, board)
    s = _linker(g, board, tmp_path / "out")
    assert (p.flash, p.sram) == (s["flash"], s["sram"])
    # the prediction put the real weights back (the skeleton holds one element per array): the
    # linker's weights component is their bytes plus alignment fill (16-byte aligned arrays)
    w, n = sum(p.weight_arrays.values()), len(p.weight_arrays)
    assert w <= s["flash_by_component"]["weights"] < w + 16 * n
    assert s["sram_by_component"]["arena"] == api.plan_memory(g, api.lower_graph(g), qemu.get_board(board).core.has_dsp).arena_bytes


def test_mixed_width_model_predicted_equals_linker(graphs, tmp_path):
    g = graphs["dscnn"]
    rng = np.random.default_rng(0)
    widths = {}
    for i in weight_ops(g):
        op = g.ops[i]
        w = g.tensors[op.inputs[1]]
        widths[w.name] = tuple(int(b) for b in rng.choice([8, 4, 2], w.shape[WEIGHT_AXIS[op.kind]]))
    gm = set_weight_bits(g, widths)
    p = predict_graph(gm, "mps2-an386")
    s = _linker(gm, "mps2-an386", tmp_path / "mixed")
    assert (p.flash, p.sram) == (s["flash"], s["sram"])


def test_skeleton_shrinks_weights_and_arena(graphs):
    from mcc.codegen import generate
    from mcc.targets import get_target

    g = graphs["dscnn"]
    records = api.lower_graph(g)
    plan = api.plan_memory(g, records, True)
    files = generate(g, plan, records, "m", "m", get_target("mps2-an386"), True)
    arrays = weight_arrays(files["mcc_weights.c"])
    assert sum(arrays.values()) == sum(g.tensors[n].nbytes for n in g.constants())
    sk = skeleton_files(files)
    assert set(weight_arrays(sk["mcc_weights.c"]).values()) <= {1, 4}
    assert "#define MCC_ARENA_SIZE 16\n" in sk["mcc_model.h"]
