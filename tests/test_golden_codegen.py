"""Golden codegen: the generated files for two small models, byte for byte.

After an intended change to the generated code, regenerate with
    MCC_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_golden_codegen.py
and review the diff of tests/golden/ like any other change.
"""

import os

import pytest

import mcc.api as api

from conftest import OPS_DIR, ROOT

GOLDEN = ROOT / "tests/golden"
MODELS = ["add_residual", "float_io_fc_softmax"]


@pytest.mark.parametrize("name", MODELS)
def test_generated_code_matches_golden(name, tmp_path):
    r = api.compile(OPS_DIR / f"{name}.tflite", tmp_path / "out")
    produced = {f: (r.outdir / f).read_bytes() for f in r.files if not f.startswith("mcc_nn/")}
    produced["mcc.json"] = (r.outdir / "mcc.json").read_bytes()
    gdir = GOLDEN / name
    if os.environ.get("MCC_UPDATE_GOLDEN"):
        for f, data in produced.items():
            (gdir / f).parent.mkdir(parents=True, exist_ok=True)
            (gdir / f).write_bytes(data)
    expected = {str(p.relative_to(gdir)): p.read_bytes() for p in gdir.rglob("*") if p.is_file()}
    assert sorted(expected) == sorted(produced)
    for f in produced:
        assert produced[f] == expected[f], f"{name}/{f} differs from the golden file"


def test_kernel_sources_are_copied_verbatim(tmp_path):
    r = api.compile(OPS_DIR / "add_residual.tflite", tmp_path / "out")
    kernels = sorted(f for f in r.files if f.startswith("mcc_nn/src/"))
    assert kernels == ["mcc_nn/src/mcc_add_s8.c", "mcc_nn/src/mcc_conv_s8.c"]  # only what the model uses
    for f in kernels:
        assert (r.outdir / f).read_bytes() == (ROOT / "firmware/src" / f.split("/")[-1]).read_bytes()
