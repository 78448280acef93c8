import pytest

from mcc.errors import ModelFormatError, UnsupportedOperatorError
from mcc.frontend import load_tflite

from conftest import ERRORS_DIR, MLPERF


def test_missing_file(tmp_path):
    with pytest.raises(ModelFormatError, match="no such file"):
        load_tflite(tmp_path / "nope.tflite")


@pytest.mark.parametrize("content", [b"", b"hello world, not a model", bytes(range(256)) * 4])
def test_not_a_flatbuffer(tmp_path, content):
    p = tmp_path / "bad.tflite"
    p.write_bytes(content)
    with pytest.raises(ModelFormatError, match="not a TFLite flatbuffer"):
        load_tflite(p)


@pytest.mark.parametrize("cut", [64, 1000, 20000])
def test_truncated_model(tmp_path, cut):
    p = tmp_path / "cut.tflite"
    p.write_bytes(MLPERF["dscnn"].read_bytes()[:cut])
    with pytest.raises(ModelFormatError, match="corrupt"):
        load_tflite(p)


def test_float_model_is_refused_with_advice():
    with pytest.raises(ModelFormatError, match=r"float model .*TFLITE_BUILTINS_INT8"):
        load_tflite(ERRORS_DIR / "float_dense.tflite")


def test_hybrid_model_is_refused_with_advice():
    with pytest.raises(ModelFormatError, match=r"hybrid .*representative_dataset"):
        load_tflite(ERRORS_DIR / "hybrid_dense.tflite")


def test_unsupported_operator_is_named_with_index_and_list():
    with pytest.raises(UnsupportedOperatorError, match=r"operator 2 is ELU.*supported: .*CONV_2D"):
        load_tflite(ERRORS_DIR / "int8_elu.tflite")


def test_16x8_model_is_accepted():
    """int16 activations with int8 weights (16x8) load; tests/test_16x8.py covers them fully."""
    g = load_tflite(ERRORS_DIR.parent / "ops16" / "float_io_conv.tflite")
    edges = [g.tensors[op.outputs[0] if op.kind == "QUANTIZE" else op.inputs[0]]
             for op in g.ops if op.kind in ("QUANTIZE", "DEQUANTIZE")]
    assert [t.dtype for t in edges] == ["int16", "int16"]
