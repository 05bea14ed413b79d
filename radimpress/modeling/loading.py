"""Weights on disk: base models, 4-bit bases, and fine-tuned adapters (or whole models) with their tokenizers."""

from __future__ import annotations

from pathlib import Path

import torch

from radimpress.errors import RadimpressError
from radimpress.files import read_json, write_json


def load_tokenizer(source: str | Path):
    """The tokenizer of a base or adapter folder, padded on the left (generation appends on the right)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(source), local_files_only=True)
    if tokenizer.pad_token is None:  # Llama and Mistral ship without one
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return tokenizer


def load_base_model(source: str | Path, master_weights: bool = False):
    """The causal LM at a local folder or in the local Hugging Face cache (never downloads).

    bf16 on a GPU that has it, fp32 elsewhere; `master_weights` keeps fp32 on the GPU too, for a full fine-tune
    under bf16 autocast (bf16 weights lose updates smaller than 1/256 of themselves).
    """
    import torch
    from transformers import AutoModelForCausalLM

    bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported() and not master_weights
    dtype = torch.bfloat16 if bf16 else torch.float32
    model = AutoModelForCausalLM.from_pretrained(str(source), local_files_only=True, dtype=dtype)
    return model.to("cuda" if torch.cuda.is_available() else "cpu")


WEIGHTS_FILE = "radimpress.json"  # beside the saved weights: how to load them back (method, quantisation)


def load_quantized_model(base: str | Path):
    """The base in 4-bit nf4 (bitsandbytes), the QLoRA recipe; computation in bf16 on a GPU, fp32 on CPU."""
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise RadimpressError("method qlora needs bitsandbytes: pip install bitsandbytes") from None
    gpu = torch.cuda.is_available()
    compute = torch.bfloat16 if gpu and torch.cuda.is_bf16_supported() else torch.float32
    quantization = BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=compute, bnb_4bit_use_double_quant=True
    )
    return AutoModelForCausalLM.from_pretrained(
        str(base),
        local_files_only=True,
        quantization_config=quantization,
        dtype=compute,
        device_map={"": torch.cuda.current_device() if gpu else "cpu"},  # a DDP rank's own GPU
    )


def save_weights(model, tokenizer, method: str, folder: Path) -> Path:
    """The adapter (or full model) and tokenizer, plus a note saying how to load them back."""
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    write_json({"method": method, "quantization": "nf4" if method == "qlora" else None}, folder / WEIGHTS_FILE)
    return folder


def saved_method(folder: Path) -> str:
    """How the weights in `folder` were trained (folders from before the note are LoRA adapters)."""
    note = Path(folder) / WEIGHTS_FILE
    return read_json(note)["method"] if note.is_file() else "lora"


def load_finetuned(base: str | Path, adapter_dir: Path):
    """The fine-tuned model and its tokenizer (the saved copy, else the base's), for inference.

    `adapter_dir` holds a LoRA adapter (loaded onto `base`), a QLoRA adapter (onto `base` in 4-bit nf4, as it was
    trained) or a fully fine-tuned model, as its `radimpress.json` says.
    """
    from peft import PeftModel

    method = saved_method(adapter_dir)
    if method == "full":
        model = load_base_model(adapter_dir)
    else:
        frozen = load_quantized_model(base) if method == "qlora" else load_base_model(base)
        model = PeftModel.from_pretrained(frozen, str(adapter_dir))
    return model.eval(), finetuned_tokenizer(base, adapter_dir)


def finetuned_tokenizer(base: str | Path, adapter_dir: Path):
    """The tokenizer saved with the fine-tune (a tiny base's), else the base model's."""
    has_tokenizer = (Path(adapter_dir) / "tokenizer_config.json").is_file()
    return load_tokenizer(adapter_dir if has_tokenizer else base)
