"""`mcc compress`: the TOML is validated, and the pipeline runs distill -> quantize -> compile end to
end to host C that is bit-exact with mcc's reference interpreter of the same int8 graph."""

import json
import sys

import numpy as np
import pytest
from click.testing import CliRunner

keras = pytest.importorskip("keras")

from mcc.cli import main  # noqa: E402
from mcc.compress.config import CompressConfigError, parse_config  # noqa: E402
from test_distill import _data, cnn  # noqa: E402


def _invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.mark.parametrize("text,msg", [
    ("[pruning]\nmethod = 'l1'\n", r"unknown section\(s\) pruning \(known: data, prune, distill, quantize, compile\)"),
    ("[prune]\nmethod = 'l1'\nratio = 0.5\n", r"\[prune\] has unknown key\(s\) ratio"),
    ("[prune]\nsparsity = 'half'\n", r"\[prune\] sparsity = 'half': expected float"),
    ("[data]\ntrain='t.npz'\n[prune]\nsparsity = 1.0\n", r"\[prune\] sparsity = 1.0: must be in \[0, 1\)"),
    ("[distill]\nepochs = 1\n", r"\[data\] train = \"data.npz\" is needed"),
    ("[data]\ntrain='t.npz'\n[distill]\nkind = 'logits'\n", r"\[distill\] unknown distillation kind 'logits'"),
    ("[data]\ntrain='t.npz'\n[distill]\nscheme = 'self'\nteacher = 't.keras'\n", "leave teacher out"),
    ("[data]\ntrain='t.npz'\n[quantize]\nmethod = 'max'\n", r"\[quantize\] method = 'max': choose one of minmax"),
    ("[compile\n", "not valid TOML"),
    ("[compile]\ntarget = 3\n", r"\[compile\] target = 3: expected str"),
])
def test_config_errors(text, msg):
    with pytest.raises(CompressConfigError, match=msg):
        parse_config(text)


def test_config_defaults_and_relative_paths(tmp_path):
    c = parse_config("[data]\ntrain = 'd/t.npz'\n[distill]\nalpha = 0.5\nepochs = 2\n[compile]\n", tmp_path)
    assert c.prune is None and c.quantize is None and c.compile.target == "host"
    assert c.distill.alpha == 0.5 and c.distill.teacher == "self" and c.distill.epochs == 2
    assert c.path(c.data.train) == tmp_path / "d" / "t.npz"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("compress")
    x, y = _data(192)
    np.savez(d / "train.npz", x=x, y=y)
    np.savez(d / "val.npz", x=x[:64], y=y[:64])
    m = cnn(8, "model", softmax=True)
    from mcc.optimize.trainer import LabelTrainer
    LabelTrainer(3e-3).fit(m, x, y, epochs=2, batch_size=32)
    m.save(d / "model.keras")
    cnn(16, "teacher", softmax=True).save(d / "teacher.keras")
    return d


DISTILL_TOML = """
[data]
train = "train.npz"
validation = "val.npz"
[distill]
teacher = "self"
kind = "response"
temperature = 2.0
alpha = 0.5
epochs = 1
batch_size = 32
[quantize]
n_calib = 64
[compile]
target = "host"
"""


@pytest.mark.slow
def test_compress_distill_quantize_compile_end_to_end(workdir):
    (workdir / "c.toml").write_text(DISTILL_TOML)
    out = workdir / "out"
    r = _invoke("compress", workdir / "model.keras", "--config", workdir / "c.toml", "-o", out)
    assert r.exit_code == 0, r.output
    for stage in ("input", "distill", "quantize", "compile"):
        assert stage in r.output
    summary = json.loads((out / "summary.json").read_text())
    stages = [s["stage"] for s in summary["stages"]]
    assert stages == ["input", "distill", "quantize", "compile"]
    comp = summary["stages"][-1]
    assert comp["weight_bytes"] > 0 and comp["arena_bytes"] > 0 and comp["macs"] > 0
    assert summary["stages"][0]["macs"] == comp["macs"]  # distillation keeps the architecture

    # the compiled C == mcc's reference interpreter on the same int8 graph of the saved model
    from mcc import api
    from mcc.evaluate import predict_int8
    from mcc.frontend.keras import load_keras
    from mcc.quantize_api import quantize_model

    x = np.load(workdir / "train.npz")["x"]
    g = quantize_model(load_keras(out / "model.keras"), x[:64], progress=False)
    got = api.run(out / "c", x[:16].reshape(16, 1, 8, 8, 1)).reshape(16, -1)
    want = predict_int8(g, x[:16])
    np.testing.assert_array_equal(got, want)
    acc8 = float(np.mean(want.argmax(1) == np.load(workdir / "train.npz")["y"][:16]))
    assert acc8 > 0.25


def test_compress_errors(workdir, tmp_path):
    (tmp_path / "bad.toml").write_text("[distill]\nfoo = 1\n")
    r = _invoke("compress", workdir / "model.keras", "--config", tmp_path / "bad.toml", "-o", tmp_path / "o")
    assert r.exit_code == 2 and "bad.toml: [distill] has unknown key(s) foo" in r.output, r.output
    r = _invoke("compress", workdir / "model.keras", "--config", tmp_path / "none.toml", "-o", tmp_path / "o")
    assert r.exit_code == 2 and "none.toml: no such file" in r.output
    (tmp_path / "ok.toml").write_text("[compile]\n[quantize]\ncalib = 'x.npy'\n")
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "mine.txt").write_text("x")
    r = _invoke("compress", workdir / "model.keras", "--config", tmp_path / "ok.toml", "-o", tmp_path / "o")
    assert r.exit_code == 2 and "holds files mcc compress did not write (e.g. mine.txt)" in r.output, r.output
    r = _invoke("compress", workdir / "model.keras", "--config", tmp_path / "ok.toml", "-t", "nope",
                "-o", tmp_path / "o2")
    assert r.exit_code == 2 and "nope" in r.output, r.output


PRUNE_TOML = """
[data]
train = "train.npz"
validation = "val.npz"
[prune]
method = "l1"
sparsity = 0.5
schedule = "oneshot"
epochs = 1
batch_size = 32
[distill]
teacher = "self"
epochs = 1
batch_size = 32
[compile]
"""


@pytest.mark.slow
def test_compress_with_prune(workdir):
    (workdir / "p.toml").write_text(PRUNE_TOML)
    out = workdir / "pruned"
    r = _invoke("compress", workdir / "model.keras", "--config", workdir / "p.toml", "-o", out)
    assert r.exit_code == 0, r.output
    stages = json.loads((out / "summary.json").read_text())["stages"]
    assert [s["stage"] for s in stages] == ["input", "prune", "distill", "quantize", "compile"]
    assert stages[1]["macs"] < stages[0]["macs"]  # l1 filter pruning removes channels
    assert stages[-1]["weight_bytes"] > 0


def test_example_config_lists_every_key():
    from dataclasses import fields
    from pathlib import Path

    from mcc.compress.config import SECTIONS, load_config

    path = Path(__file__).resolve().parent.parent / "examples/compress/compress.toml"
    cfg = load_config(path)
    for name, cls in SECTIONS.items():
        section = getattr(cfg, name)
        assert section is not None, name
        assert {f.name for f in fields(cls)} <= set(vars(section)), name
    import tomllib
    doc = tomllib.loads(path.read_text())
    assert {n: set(doc[n]) for n in doc} == {n: {f.name for f in fields(c)} for n, c in SECTIONS.items()}


def test_compress_says_when_the_prune_module_is_missing(workdir, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mcc.optimize.prune", None)  # as in a build without pruning
    (tmp_path / "p.toml").write_text(PRUNE_TOML.replace('"train.npz"', f'"{workdir}/train.npz"')
                                     .replace('"val.npz"', f'"{workdir}/val.npz"'))
    r = _invoke("compress", workdir / "model.keras", "--config", tmp_path / "p.toml", "-o", tmp_path / "o")
    assert r.exit_code == 2 and "the [prune] stage needs mcc.optimize.prune" in r.output, r.output
    assert not (tmp_path / "o").exists()  # failed before any training or writing
