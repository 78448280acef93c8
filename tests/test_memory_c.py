"""Generated C with the optimized memory plans (order search, in-place ADD, patch-based row bands):
bit-exact with the numpy reference under ASan/UBSan on the host, with TFLM, and on QEMU (Cortex-M4,
DSP kernels); the CLI option and the report; the arena goal against TFLM."""

import numpy as np
import pytest
from click.testing import CliRunner

import mcc.api as api
from mcc.cli import main
from mcc.errors import MccError
from mcc.oracle.tflm import run_tflm, tflm_arena_report
from mcc.options import CompileOptions
from mcc.planner.report import inplace_ops
from mcc.reference.interp import run as interp_run
from mcc.sim import host

from conftest import MLPERF


def _reference(g, x):
    return np.stack([interp_run(g, [xi])[0] for xi in x])


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MLPERF))
def test_patched_c_is_exact_under_sanitizers(name, tmp_path):
    """The smallest-arena plan (no limit on recomputed MACs: the most bands; the default plan is
    covered by tests/test_end_to_end.py and the MobileNet test below)."""
    r = api.compile(MLPERF[name], tmp_path / "out", CompileOptions(patch_overhead=-1))
    assert r.memory is not None and r.memory.patch is not None  # every MLPerf model gets patched
    g = r.graph
    x = api.random_inputs(g, 4, seed=11)
    y_t = g.tensors[g.outputs[0]]
    y = host.run(r.outdir, x, y_t.shape, y_t.dtype, variant="sanitize")
    assert np.array_equal(y.reshape(len(x), -1), _reference(g, x).reshape(len(x), -1))


@pytest.mark.slow
def test_inplace_without_patches_is_exact_under_sanitizers(tmp_path):
    """ResNet-8 with order search and in-place ADDs only (the patch stage would absorb none of its
    later ADDs, but test the unpatched program on its own too)."""
    from mcc.codegen import generate
    from mcc.planner.optimize import plan_optimized
    from mcc.outdir import write_outdir

    g = api.load_model(MLPERF["resnet8"])
    mem = plan_optimized(g, api.lower_graph(g), patch=False)
    assert len(inplace_ops(mem.program)) >= 2
    files = generate(mem.program.graph, mem.plan, list(mem.program.records), "model", "resnet8")
    x_t, y_t = g.tensors[g.inputs[0]], g.tensors[g.outputs[0]]
    out = write_outdir(tmp_path / "out", files, {
        "target": "host", "input": {"shape": list(x_t.shape), "dtype": x_t.dtype},
        "output": {"shape": list(y_t.shape), "dtype": y_t.dtype}})
    x = api.random_inputs(g, 4, seed=5)
    y = host.run(out, x, y_t.shape, y_t.dtype, variant="sanitize")
    assert np.array_equal(y.reshape(len(x), -1), _reference(g, x).reshape(len(x), -1))


@pytest.mark.slow
def test_resnet8_optimized_plan_bit_exact_with_tflm(tmp_path):
    r = api.compile(MLPERF["resnet8"], tmp_path / "out", CompileOptions(patch_overhead=-1))
    assert r.memory.patch is not None
    x = api.random_inputs(r.graph, 30, seed=3)
    y = api.run(r.outdir, x)
    assert np.array_equal(y, run_tflm(MLPERF["resnet8"], x).outputs.reshape(y.shape))


@pytest.mark.slow
def test_resnet8_patched_on_qemu_m4(tmp_path):
    r = api.compile(MLPERF["resnet8"], tmp_path / "out", CompileOptions(target="mps2-an386", patch_overhead=-1))
    assert r.memory.patch is not None and "mcc_conv_s8" in r.memory.kernels
    x = api.random_inputs(r.graph, 2, seed=9)
    y = api.run(r.outdir, x)
    assert np.array_equal(y.reshape(2, -1), _reference(r.graph, x).reshape(2, -1))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MLPERF))
def test_arena_at_least_25_percent_below_tflm(name):
    r = api.analyze(MLPERF[name], options=CompileOptions(patch_overhead=0.25))
    tflm = tflm_arena_report(MLPERF[name]).total
    assert r.arena_bytes <= 0.75 * tflm, (r.arena_bytes, tflm)


def test_cli_memory_option_and_report(tmp_path):
    runner = CliRunner()
    ff = runner.invoke(main, ["compile", str(MLPERF["sww"]), "-o", str(tmp_path / "ff"), "--memory", "firstfit"])
    assert ff.exit_code == 0, ff.output
    assert not (tmp_path / "ff" / "mcc_memory.svg").exists()
    opt = runner.invoke(main, ["compile", str(MLPERF["sww"]), "-o", str(tmp_path / "opt"), "--patch-overhead", "0.25"])
    assert opt.exit_code == 0, opt.output
    for words in ("first fit", "order search", "+ in-place", "+ patches", "row bands", "lower bound"):
        assert words in opt.output
    svg = (tmp_path / "opt" / "mcc_memory.svg").read_text()
    assert svg.startswith("<svg") and svg.count("<rect") > 10
    import json
    m = json.loads((tmp_path / "opt" / "mcc.json").read_text())
    assert m["memory"]["arena_bytes"] == m["arena_bytes"] < m["memory"]["steps"]["first fit"]["arena_bytes"]
    bad = runner.invoke(main, ["compile", str(MLPERF["sww"]), "-o", str(tmp_path / "bad"), "--memory", "best"])
    assert bad.exit_code == 2 and "firstfit" in bad.output


def test_api_rejects_unknown_memory_plan(tmp_path):
    with pytest.raises(MccError, match="unknown memory plan 'best'; choose firstfit or optimized"):
        api.compile(MLPERF["sww"], tmp_path / "o", CompileOptions(memory="best"))


def test_firstfit_keeps_the_spine_plan(tmp_path):
    r = api.compile(MLPERF["resnet8"], tmp_path / "o", CompileOptions(memory="firstfit"))
    assert r.memory is None
    g = r.graph
    assert r.plan.arena_bytes == api.plan_memory(g, api.lower_graph(g)).arena_bytes


def test_patch_overhead_limits_recompute():
    from mcc.planner.optimize import model_macs, plan_optimized
    from mcc.planner.schedule import program_of
    g = api.load_model(MLPERF["resnet8"])
    records = api.lower_graph(g)
    free = plan_optimized(g, records, max_overhead=None)
    capped = plan_optimized(g, records, max_overhead=0.1)
    total = model_macs(program_of(g, records))
    assert capped.patch.macs - capped.patch.stage_macs <= 0.1 * total
    assert free.plan.arena_bytes < capped.plan.arena_bytes < capped.steps["+ in-place"].arena_bytes


MOBILENET = MLPERF["resnet8"].parents[3] / "tests/data/mobilenet_v2_96_int8.tflite"


@pytest.mark.slow
def test_mobilenet_patches_halve_the_peak_and_stay_exact(tmp_path):
    """MobileNetV2-style 96x96 model (tests/make_mobilenet.py): the default plan (<= 25 % extra MACs)
    at least halves the first-fit arena; the C is exact vs the reference under ASan and vs TFLM."""
    r = api.compile(MOBILENET, tmp_path / "out", CompileOptions(patch_overhead=0.25))
    mem = r.memory
    assert mem.patch is not None
    assert mem.steps["first fit"].arena_bytes >= 2 * mem.plan.arena_bytes
    g = r.graph
    x = api.random_inputs(g, 3, seed=4)
    y_t = g.tensors[g.outputs[0]]
    y = host.run(r.outdir, x, y_t.shape, y_t.dtype, variant="sanitize")
    assert np.array_equal(y.reshape(3, -1), _reference(g, x).reshape(3, -1))
    y_tflm = run_tflm(MOBILENET, x).outputs.reshape(y.shape)
    assert np.array_equal(y, y_tflm)


@pytest.mark.slow
def test_mobilenet_patched_on_qemu_m4_dsp_kernels(tmp_path):
    """Band records through the DSP variants (1x1 conv, 3x3 depthwise with their scratch)."""
    r = api.compile(MOBILENET, tmp_path / "out", CompileOptions(target="mps2-an386", patch_overhead=0.25))
    assert r.memory.patch is not None
    assert {"mcc_conv_1x1_s8", "mcc_depthwise_conv_3x3_s8"} <= set(r.memory.kernels)
    x = api.random_inputs(r.graph, 1, seed=8)
    y = api.run(r.outdir, x)
    assert np.array_equal(y.reshape(1, -1), _reference(r.graph, x).reshape(1, -1))


@pytest.mark.parametrize("name", ["requantize_logistic_concat", "requantize_two_concats"])
def test_inplace_requantize_is_exact_under_sanitizers(name, tmp_path):
    path = MLPERF["resnet8"].parents[3] / "tests/data/ops" / f"{name}.tflite"
    r = api.compile(path, tmp_path / "out", CompileOptions())
    assert any(n.endswith("_quantize") for n in inplace_ops(r.memory.program))
    g = r.graph
    x = api.random_inputs(g, 8, seed=2)
    y_t = g.tensors[g.outputs[0]]
    y = host.run(r.outdir, x, y_t.shape, y_t.dtype, variant="sanitize")
    assert np.array_equal(y.reshape(8, -1), _reference(g, x).reshape(8, -1))
    assert np.array_equal(y, run_tflm(path, x).outputs.reshape(y.shape))


def test_patches_share_the_weights(tmp_path):
    """Every band calls the kernel with the same weight arrays: flash does not grow."""
    ff = api.compile(MLPERF["sww"], tmp_path / "ff", CompileOptions(memory="firstfit"))
    opt = api.compile(MLPERF["sww"], tmp_path / "opt", CompileOptions(patch_overhead=0.25))
    assert opt.memory.patch is not None and opt.memory.patch.bands > 1
    assert opt.weight_bytes == ff.weight_bytes
    count = (tmp_path / "opt/mcc_weights.h").read_text().count("extern const")
    assert count == (tmp_path / "ff/mcc_weights.h").read_text().count("extern const")


def test_analyze_shows_the_plan():
    import json
    runner = CliRunner()
    r = runner.invoke(main, ["analyze", str(MLPERF["resnet8"]), "--json", "--patch-overhead", "0.25"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    mem = d["memory"]
    assert mem["arena_bytes"] == d["totals"]["arena_bytes"] < mem["steps"]["first fit"]["arena_bytes"]
    assert mem["patch"]["bands"] > 1 and mem["patch"]["recompute_overhead"] > 0
    assert len(d["layers"]) == 16  # the model's own layers
    text = runner.invoke(main, ["analyze", str(MLPERF["resnet8"]), "--patch-overhead", "0.25"]).output
    assert "memory plan" in text and "row bands" in text and "offset down" in text


def test_patches_only_when_the_board_needs_them(tmp_path):
    """By default mcc does not recompute: a model that fits is not patched; one whose arena does
    not fit the board's SRAM is patched (25 % recompute, then unlimited) until it fits."""
    from mcc.errors import FitError

    small = api.compile(MLPERF["sww"], tmp_path / "sww", CompileOptions(target="mps2-an386"))
    assert small.memory.patch is None
    with pytest.raises(FitError, match="SRAM"):
        api.compile(MOBILENET, tmp_path / "ff", CompileOptions(target="nucleo-f401re", memory="firstfit", dsp=False))
    r = api.compile(MOBILENET, tmp_path / "auto", CompileOptions(target="nucleo-f401re", dsp=False))
    assert r.memory.patch is not None and r.memory.patch.bands > 1
