
import pytest

from mcc.errors import OutputDirError
from mcc.outdir import read_manifest, write_outdir


def test_writes_files_and_manifest(tmp_path):
    out = write_outdir(tmp_path / "o", {"a.c": "int a;\n", "sub/b.h": "x\n"}, {"model": "m"})
    assert (out / "sub/b.h").read_text() == "x\n"
    assert read_manifest(out)["files"] == ["a.c", "sub/b.h"]


def test_refuses_foreign_files_unless_forced(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OutputDirError, match="did not write.*notes.txt.*--force"):
        write_outdir(out, {"a.c": ""}, {})
    assert (out / "notes.txt").read_text() == "mine"  # untouched
    write_outdir(out, {"a.c": ""}, {}, force=True)
    assert not (out / "notes.txt").exists()


def test_replaces_its_own_output_and_build_products(tmp_path):
    out = write_outdir(tmp_path / "o", {"a.c": "1"}, {})
    (out / "build").mkdir()
    (out / "build" / "x.o").write_text("obj")
    write_outdir(out, {"b.c": "2"}, {})
    assert sorted(p.name for p in out.iterdir()) == ["b.c", "mcc.json"]


def test_never_leaves_a_half_written_directory(tmp_path):

    files = {"a.c": "ok", "b.c": None}  # writing None fails halfway
    with pytest.raises(TypeError):
        write_outdir(tmp_path / "o", files, {})
    assert not (tmp_path / "o").exists()
    assert [p.name for p in tmp_path.iterdir()] == []


def test_output_path_that_is_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(OutputDirError, match="not a directory"):
        write_outdir(f, {}, {})


def test_read_manifest_errors(tmp_path):
    with pytest.raises(OutputDirError, match="not an mcc output directory"):
        read_manifest(tmp_path)
    (tmp_path / "mcc.json").write_text("{broken")
    with pytest.raises(OutputDirError, match="corrupt"):
        read_manifest(tmp_path)
