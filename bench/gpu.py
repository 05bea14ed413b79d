"""GPU check: LoRA training throughput and model FLOPs utilisation (MFU), and batched generation throughput, on
randomly initialised models of the real Llama-3.2-1B and Llama-3.1-8B shapes in bf16, first in a bare PyTorch loop
(the hardware's ceiling), then through radimpress's own `finetune` (what a run gets). Run through bench/gpu.sh.

    .venv/bin/python bench/gpu.py                 # on a GPU machine: both shapes, about 5 minutes
    .venv/bin/python bench/gpu.py --smoke         # anywhere: tiny shapes on CPU, checks the script itself

MFU counts the FLOPs a LoRA step needs: the forward pass (2 FLOPs per weight per token), the backward pass to the
activations (2 more; the frozen weights need no weight gradients), and attention (the causal score and value
products), against the GPU's dense bf16 peak (H200 / H100: 989 TFLOP/s; override with --peak-tflops).
Targets from issue 4: at least 35% MFU in training and at least 5,000 generated tokens/s for the 1B shape.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from radimpress.modeling.generate import greedy_decode  # noqa: E402

SHAPES = {  # the published configs of the study's smallest and largest Llama
    "llama-3.2-1b": dict(
        hidden_size=2048,
        num_hidden_layers=16,
        num_attention_heads=32,
        num_key_value_heads=8,
        intermediate_size=8192,
        vocab_size=128256,
        tie_word_embeddings=True,
    ),
    "llama-3.1-8b": dict(
        hidden_size=4096,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=8,
        intermediate_size=14336,
        vocab_size=128256,
        tie_word_embeddings=False,
    ),
    "smoke": dict(
        hidden_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=1,
        intermediate_size=384,
        vocab_size=1024,
        tie_word_embeddings=True,
    ),
}
TRAIN = {"llama-3.2-1b": (16, 1024), "llama-3.1-8b": (8, 1024), "smoke": (4, 64)}  # micro-batch, sequence length
GENERATE = {"llama-3.2-1b": (256, 128, 128), "smoke": (8, 16, 8)}  # prompts, prompt length, new tokens
PROJECT_STEPS = {"llama-3.2-1b": 12, "llama-3.1-8b": 8, "smoke": 3}  # optimizer steps through radimpress finetune


def build(shape: str, device: str, dtype: torch.dtype):
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(**SHAPES[shape], max_position_embeddings=4096, rope_theta=500000.0)
    config._attn_implementation = "sdpa"
    with torch.device(device):
        model = LlamaForCausalLM(config).to(dtype)
    return model, config


def train_flops_per_token(config, sequence: int) -> float:
    """FLOPs of one LoRA training token: forward (2 per weight, plus causal attention) and backward to the
    activations (as much again; frozen weights get no weight gradients, the small LoRA ones are left out)."""
    head = config.hidden_size // config.num_attention_heads
    kv = config.num_key_value_heads * head
    per_layer = 2 * config.hidden_size * (config.hidden_size + kv) + 3 * config.hidden_size * config.intermediate_size
    weights = config.num_hidden_layers * per_layer + config.vocab_size * config.hidden_size  # + lm_head
    attention = 2 * config.num_hidden_layers * sequence * config.hidden_size  # QK^T and AV over half the sequence
    return 2 * (2 * weights + attention)


def lora_training(shape: str, device: str, steps: int, warmup: int, peak_tflops: float) -> dict:
    from peft import LoraConfig, get_peft_model

    model, config = build(shape, device, torch.bfloat16 if device == "cuda" else torch.float32)
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules=targets, task_type="CAUSAL_LM"))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    batch, sequence = TRAIN[shape]
    ids = torch.randint(0, config.vocab_size, (batch, sequence), device=device)
    for step in range(warmup + steps):
        if step == warmup:
            _sync(device)
            started = time.perf_counter()
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    _sync(device)
    seconds = time.perf_counter() - started
    tokens_per_second = steps * batch * sequence / seconds
    achieved = tokens_per_second * train_flops_per_token(config, sequence) / 1e12
    peak_gib = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else 0.0
    del model, optimizer
    _free(device)
    return {
        "shape": shape,
        "micro_batch": batch,
        "sequence": sequence,
        "train_tokens_per_second": round(tokens_per_second),
        "achieved_tflops": round(achieved, 1),
        "mfu": round(achieved / peak_tflops, 3),
        "peak_memory_gib": round(peak_gib, 1),
    }


def project_finetune(shape: str, device: str, folder: Path, peak_tflops: float) -> dict:
    """LoRA through radimpress's own `finetune` (Trainer, bf16, its gradient-checkpointing and optimizer choices,
    packing into rows of the sequence length) on a saved random-initialised model of the shape."""
    from radimpress.config import LoraConfig, TrainConfig
    from radimpress.modeling.packing import tokenize_pairs
    from radimpress.modeling.train import finetune
    from radimpress.sim.synthetic import generate_reports
    from radimpress.sim.tiny import train_tokenizer

    model, config = build(shape, device, torch.bfloat16 if device == "cuda" else torch.float32)
    base = folder / shape
    model.save_pretrained(base)
    del model
    _free(device)
    reports = generate_reports(2000, seed=0)
    tokenizer = train_tokenizer([*reports["findings"], *reports["impression"]], 1024)  # ids < the shape's vocab
    tokenizer.save_pretrained(base)
    batch, sequence = TRAIN[shape]
    rows = batch * PROJECT_STEPS[shape]
    prompts = [f"FINDINGS: {text}\nIMPRESSION:" for text in reports["findings"]]
    targets = [f" {text}" for text in reports["impression"]]
    tokens_per_pair = sum(len(p["input_ids"]) for p in tokenize_pairs(tokenizer, prompts, targets, sequence)) / len(
        prompts
    )
    pairs = int(rows * sequence / tokens_per_pair)  # packed into about `rows` full rows
    prompts, targets = (prompts * (pairs // len(prompts) + 1))[:pairs], (targets * (pairs // len(targets) + 1))[:pairs]
    targets_all = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    train = TrainConfig(
        method="lora",
        epochs=1,
        batch_size=batch,
        max_length=sequence,
        packing=True,
        checkpoint_steps=0,
        learning_rate=1e-4,
    )
    result = finetune(
        base, prompts, targets, LoraConfig(r=16, alpha=32, target_modules=targets_all), train, folder / f"{shape}-run"
    )
    tokens = pairs * tokens_per_pair
    tokens_per_second = tokens / result.train_seconds
    achieved = tokens_per_second * train_flops_per_token(config, sequence) / 1e12
    _free(device)
    return {
        "shape": shape,
        "through": "radimpress finetune",
        "micro_batch": result.batch_size,
        "steps": len(result.losses),
        "train_tokens_per_second": round(tokens_per_second),
        "mfu": round(achieved / peak_tflops, 3),  # first steps and checkpointing's recompute included, so lower
        "peak_memory_gib": result.peak_memory_gib,
    }


def generation(shape: str, device: str) -> dict:
    model, config = build(shape, device, torch.bfloat16 if device == "cuda" else torch.float32)
    model.eval()
    prompts, length, new_tokens = GENERATE[shape]
    ids = torch.randint(3, config.vocab_size, (prompts, length), device=device)
    mask = torch.ones_like(ids)
    greedy_decode(model, ids[:8], mask[:8], 4, eos_id=None)  # warm-up
    _sync(device)
    started = time.perf_counter()
    greedy_decode(model, ids, mask, new_tokens, eos_id=None)
    _sync(device)
    seconds = time.perf_counter() - started
    del model
    _free(device)
    return {
        "shape": shape,
        "prompts": prompts,
        "new_tokens": new_tokens,
        "generated_tokens_per_second": round(prompts * new_tokens / seconds),
    }


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _free(device: str) -> None:
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny shapes on whatever device is here")
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="dense bf16 peak of this GPU")
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" and not args.smoke:
        sys.exit("bench/gpu.py needs a CUDA GPU (or --smoke to check the script on CPU)")
    if device == "cuda":
        print(f"GPU: {torch.cuda.get_device_name()}, torch {torch.__version__}, peak {args.peak_tflops} TFLOP/s bf16")
    shapes = ["smoke"] if args.smoke else ["llama-3.2-1b", "llama-3.1-8b"]
    results = [lora_training(s, device, args.steps, 3, args.peak_tflops) for s in shapes]
    with tempfile.TemporaryDirectory(prefix="radimpress-gpu-") as folder:
        os.environ.setdefault("RADIMPRESS_DATA_DIR", folder)  # the tokenised examples' cache, thrown away after
        results += [project_finetune(s, device, Path(folder), args.peak_tflops) for s in shapes]
    results += [generation(s, device) for s in shapes if s in GENERATE]
    for result in results:
        print(json.dumps(result))
    training_1b = next((r for r in results if r.get("shape") == shapes[0] and "through" in r), None)
    generated_1b = next((r for r in results if "generated_tokens_per_second" in r), None)
    print(
        f"LoRA training MFU through radimpress finetune ({shapes[0]}): {100 * training_1b['mfu']:.0f}% (target >= 35%)"
    )
    print(f"generation ({shapes[0]}): {generated_1b['generated_tokens_per_second']:,} tokens/s (target >= 5,000)")


if __name__ == "__main__":
    main()
