"""`mcc distill`: trains and saves a loadable student; bad input is one line with exit code 2."""

import numpy as np
import pytest
from click.testing import CliRunner

keras = pytest.importorskip("keras")

from mcc.cli import main  # noqa: E402
from test_distill import _data, cnn  # noqa: E402


def _invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("distill_cli")
    from mcc.optimize.trainer import LabelTrainer

    x, y = _data(192)
    t = cnn(12, "teacher", softmax=True)
    LabelTrainer(3e-3).fit(t, x, y, epochs=3, batch_size=32)
    t.save(d / "t.keras")
    cnn(4, "student").save(d / "s.keras")
    cnn(4, "student3", classes=3).save(d / "s3.keras")
    np.savez(d / "train.npz", x=x, y=y)
    np.savez(d / "nolabels.npz", x=x)
    return d


@pytest.mark.slow
@pytest.mark.parametrize("extra", [
    ["--kind", "response"],
    ["--kind", "feature", "--hint", "c2:c2", "--alpha", "0.5"],
    ["--scheme", "self", "--heads", "c1"],
])
def test_distill_writes_a_loadable_student(files, tmp_path, extra):
    out = tmp_path / "student.keras"
    teacher = [] if "self" in extra else ["--teacher", files / "t.keras"]
    r = _invoke("distill", *teacher, "--student", files / "s.keras", "--train", files / "train.npz",
                "--epochs", 2, "--eval", files / "train.npz", "-o", out, *extra)
    assert r.exit_code == 0, r.output
    assert "wrote" in r.output and "student distilled" in r.output
    m = keras.saving.load_model(out)
    assert m.count_params() == keras.saving.load_model(files / "s.keras").count_params()
    before = keras.saving.load_model(files / "s.keras").get_weights()
    assert any(not np.array_equal(a, b) for a, b in zip(before, m.get_weights()))


@pytest.mark.parametrize("args,msg", [
    (["--teacher", "t.keras", "--student", "s3.keras", "--train", "train.npz", "-o", "o.keras"],
     r"teacher's output shape \(4,\) differs from the student's \(3,\)"),
    (["--teacher", "t.keras", "--student", "s.keras", "--train", "nolabels.npz", "-o", "o.keras"],
     "needs an .npz with arrays x and y"),
    (["--teacher", "t.keras", "--student", "s.keras", "--train", "train.npz", "-o", "o.npz"],
     r"saved as a Keras model; name it \*.keras"),
    (["--student", "s.keras", "--train", "train.npz", "-o", "o.keras"], "offline scheme needs a teacher"),
    (["--teacher", "t.keras", "--student", "s.keras", "--train", "train.npz", "--kind", "feature",
      "--hint", "c2:zzz", "-o", "o.keras"], "the student has no layer 'zzz'"),
    (["--teacher", "missing.keras", "--student", "s.keras", "--train", "train.npz", "-o", "o.keras"],
     "no such file"),
])
def test_distill_errors(files, tmp_path, args, msg):
    import re

    args = [str(files / a) if a.endswith((".keras", ".npz")) and a != "o.keras" and a != "o.npz" else a
            for a in args]
    args = [str(tmp_path / a) if a in ("o.keras", "o.npz") else a for a in args]
    r = _invoke("distill", *args)
    assert r.exit_code == 2, r.output
    assert "mcc: error:" in r.output and re.search(msg, r.output), r.output
    assert len(r.output.strip().splitlines()) == 1
