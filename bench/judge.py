"""Judge scoring of 1,000 (reference, generated) pairs: today's way (one prompt at a time, its 11 score words as
11 full rows) against `expected_scores` (batches of prompts: the prompts once, then every score's later tokens on
their cached keys and values), side by side in one run on the same fine-tuned judge.

    .venv/bin/python bench/judge.py                 # 1,000 pairs, about a minute on 2 cores
    .venv/bin/python bench/judge.py --pairs 200

The judge is the smoke profile's: a tiny-llama base (vocabulary 1,024, briefly pretrained) with a rank-8 LoRA
adapter fine-tuned for a few steps on judge prompts. Today's way scores with the adapter loaded as it was then
(`load_finetuned`); the new way as `judge_generations` does (`load_judge` merges the adapter; that load is timed).
Pairs are `bench/score.py`'s mix of copies, other reports' impressions, truncations and rewordings. "Today's way"
is `expected_score` at 0b8db23 (`git show 0b8db23:radimpress/evaluation/judge.py`). Both ways run in this
process, one after the other, each three times (the fastest counts), on torch's default threads. The scores are
asserted equal to 1e-5 on every pair.
Target: at least 10x faster. The speed-up is printed last.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_SPEEDUP, TOLERANCE = 10.0, 1e-5


# --- today's way: radimpress/evaluation/judge.py at 0b8db23 ---------------------------------------------------


@torch.inference_mode()
def expected_score_today(model, tokenizer, prompt: str) -> float:
    from radimpress.evaluation.judge import SCORE_END, SCORES
    from radimpress.modeling.prompts import encode_prompts

    # The score words end as the judge learns them now (`SCORE_END`, was end-of-text); the method is 0b8db23's.
    prompt_ids = encode_prompts(tokenizer, [prompt])[0]
    candidates = [tokenizer(f" {s}{SCORE_END}", add_special_tokens=False)["input_ids"] for s in SCORES]
    width = len(prompt_ids) + max(len(c) for c in candidates)
    rows = [prompt_ids + c + [tokenizer.pad_token_id] * (width - len(prompt_ids) - len(c)) for c in candidates]
    mask = [[1] * (len(prompt_ids) + len(c)) + [0] * (width - len(prompt_ids) - len(c)) for c in candidates]
    logits = model(
        input_ids=torch.tensor(rows, device=model.device),
        attention_mask=torch.tensor(mask, device=model.device),
    ).logits
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    totals = torch.stack(
        [
            sum(log_probs[i, len(prompt_ids) + j - 1, token] for j, token in enumerate(c))
            for i, c in enumerate(candidates)
        ]
    )
    weights = torch.softmax(totals, dim=0)
    return float((weights * torch.tensor(SCORES, dtype=weights.dtype, device=weights.device)).sum())


# --- the judge -------------------------------------------------------------------------------------------------


def fine_tuned_judge(prompts: list[str], folder: Path) -> tuple[Path, Path]:
    """The smoke profile's judge, (base, adapter): tiny-llama, briefly pretrained, a LoRA adapter fine-tuned on
    judge prompts."""
    from radimpress.config import LoraConfig, TinyBaseConfig, TrainConfig
    from radimpress.evaluation.judge import SCORE_END, SCORES
    from radimpress.modeling.train import finetune
    from radimpress.sim.tiny import build_tiny_base

    tiny = TinyBaseConfig(vocab_size=1024, pretrain_reports=200, pretrain_steps=20)
    base = build_tiny_base("tiny-llama", prompts + [f" {s}" for s in SCORES], tiny, folder / "base")
    lora = LoraConfig(r=8, alpha=16, dropout=0.0, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"])
    train = TrainConfig(epochs=1, learning_rate=0.003, batch_size=16, max_length=256, seed=0)
    targets = [f" {i % 11}{SCORE_END}" for i in range(64)]
    return base, finetune(base, prompts[:64], targets, lora, train, folder / "judge").adapter_dir


def best_of(repeats: int, way) -> tuple[float, list[float]]:
    """The fastest of `repeats` runs (the others only measured the machine's noise) and its scores."""
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        scores = way()
        timings.append(time.perf_counter() - started)
    return min(timings), scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=1_000)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each way; the fastest counts")
    parser.add_argument("--batch-size", type=int, default=None, help="prompts a batch (default: the judge's)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from bench.score import make_pairs
    from radimpress.evaluation.judge import expected_scores, judge_prompt, load_judge
    from radimpress.modeling.loading import load_finetuned

    generated, references = make_pairs(args.pairs)
    prompts = [judge_prompt(None, None, r, g) for r, g in zip(references, generated, strict=True)]
    with tempfile.TemporaryDirectory() as folder:
        base, adapter = fine_tuned_judge(prompts, Path(folder))
        model, tokenizer = load_finetuned(base, adapter)
        lengths = sorted(len(ids) for ids in tokenizer(prompts)["input_ids"])
        print(f"pairs: {args.pairs:,}; prompt tokens: median {lengths[len(lengths) // 2]}, longest {lengths[-1]}")
        today_seconds, today = best_of(
            args.repeats, lambda: [expected_score_today(model, tokenizer, p) for p in prompts]
        )
        print(f"today's way: {today_seconds:7.1f} s  ({1000 * today_seconds / args.pairs:.1f} ms a pair)")
        batch = {"batch_size": args.batch_size} if args.batch_size else {}

        def new_way() -> list[float]:  # as `judge_generations` runs it: its own load, merge and batches
            judge, judge_tokenizer = load_judge(base, adapter)
            return expected_scores(judge, judge_tokenizer, prompts, **batch)

        new_seconds, new = best_of(args.repeats, new_way)
        print(f"new way:     {new_seconds:7.1f} s  ({1000 * new_seconds / args.pairs:.1f} ms a pair, loading counted)")
    difference = max(abs(a - b) for a, b in zip(today, new, strict=True))
    means = f"{sum(today) / len(today):.6f} today, {sum(new) / len(new):.6f} new"
    print(f"mean score {means}; largest pair difference {difference:.1e}")
    assert difference <= TOLERANCE, difference
    print(f"speed-up: {today_seconds / new_seconds:.1f}x (target >= {TARGET_SPEEDUP:.0f}x)")


if __name__ == "__main__":
    main()
