#!/usr/bin/env bash
# Installs everything mcc needs on a fresh Debian machine (run as root), then compiles the bundled
# example model (MLPerf Tiny DS-CNN keyword spotting, int8) and prints where the C went.
set -euo pipefail
cd "$(dirname "$0")"

export DEBIAN_FRONTEND=noninteractive
if command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq || true
    apt-get install -y -qq --no-install-recommends \
        build-essential make cmake python3-venv \
        gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm dataset-fashion-mnist >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[dev]'

export TF_CPP_MIN_LOG_LEVEL=3 TF_ENABLE_ONEDNN_OPTS=0
.venv/bin/mcc compile examples/mlperf_tiny/kws/dscnn_int8.tflite -t host -o out/dscnn --force
.venv/bin/mcc run out/dscnn -i examples/mlperf_tiny/kws/sample_batch.npy -o out/dscnn_output.npy
.venv/bin/python -c "import numpy as np; y = np.load('out/dscnn_output.npy'); labels = open('examples/mlperf_tiny/kws/labels.txt').read().split(); print('DS-CNN on the bundled sample predicts:', labels[int(y.reshape(-1).argmax())])"
echo "The generated C library is in out/dscnn (mcc_model.h is its API)."
