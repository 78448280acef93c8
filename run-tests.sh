#!/usr/bin/env bash
# Runs the whole test suite (slow tests included) on all cores.
set -euo pipefail
cd "$(dirname "$0")"
export TF_CPP_MIN_LOG_LEVEL=3 TF_ENABLE_ONEDNN_OPTS=0
exec .venv/bin/pytest -q -n auto "$@"
