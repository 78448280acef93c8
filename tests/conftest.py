import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MLPERF = {
    "resnet8": ROOT / "examples/mlperf_tiny/ic/resnet8_int8.tflite",
    "dscnn": ROOT / "examples/mlperf_tiny/kws/dscnn_int8.tflite",
    "sww": ROOT / "examples/mlperf_tiny/sww/sww_dscnn_int8.tflite",
}
OPS_DIR = ROOT / "tests/data/ops"
ERRORS_DIR = ROOT / "tests/data/errors"


def op_models():
    return sorted(OPS_DIR.glob("*.tflite"))


@pytest.fixture(params=sorted(MLPERF), ids=sorted(MLPERF))
def mlperf_model(request):
    return MLPERF[request.param]
