#!/usr/bin/env bash
# The GPU check of issue 4, as one prepared script: LoRA training tokens/s and MFU (bf16) on random-initialised
# Llama-3.2-1B and Llama-3.1-8B shapes (a bare loop, then through radimpress finetune), and batched generation
# tokens/s for the 1B shape. At most 8 minutes.
#   bash bench/gpu.sh            (on a machine with a CUDA GPU and the project's .venv, or python on PATH)
set -euo pipefail
cd "$(dirname "$0")/.."
python=.venv/bin/python; [ -x "$python" ] || python=python3
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
timeout 480 "$python" bench/gpu.py "$@"
