"""The study's two comparison tables, for the top variants."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from radimpress.markdown import markdown_table


@dataclass(frozen=True)
class VariantOutcome:
    """Everything the comparison needs to know about one fine-tuned variant."""

    variant_id: str
    model: str
    input_config: str
    train_seconds: float
    generation_seconds: float
    tokens_per_second: float
    scores: dict[str, float]
    peak_memory_gib: float = 0.0  # the larger of training's and generation's peak
    factual_correctness: float | None = None  # mean judge score on the test split


INPUT_LABELS = {
    "findings": "Findings",
    "findings_clinical": "Clinical + Findings",
    "instruction": "Instruction",
    "most_frequent_impression": "Most frequent impression",
    "last_findings_sentence": "Last findings sentence",
}


def top_k_indices(values: list[float], top_k: int, groups: list[str] | None = None) -> list[int]:
    """Positions of the `top_k` largest values, best first; ties keep the input order.

    With `groups` (a model name per value), only the best position of each group can be chosen.
    """
    ranked = sorted(range(len(values)), key=lambda i: -values[i])
    if groups is not None:
        best_of_group = {}
        for i in ranked:
            best_of_group.setdefault(groups[i], i)
        ranked = list(best_of_group.values())
    return ranked[:top_k]


def format_duration(seconds: float) -> str:
    """'1h 42min', '16min 27s', '3.2s': the study's way of writing times."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}min" if hours else f"{minutes}min {secs}s"


def quality_table(outcomes: list[VariantOutcome], judge_label: str) -> pl.DataFrame:
    """Table 1 of the study: cost, factual correctness, BERTScore and similarity per model."""
    similarity_keys = sorted(k for k in outcomes[0].scores if k.startswith("similarity_"))
    return pl.DataFrame(
        [
            {
                "Model": o.model,
                "Input": INPUT_LABELS[o.input_config],
                "Variant": o.variant_id,
                "Training time": format_duration(o.train_seconds),
                "Generation time": format_duration(o.generation_seconds),
                "Tokens/s": round(o.tokens_per_second, 1),
                "Peak memory (GiB)": round(o.peak_memory_gib, 2),
                f"Factual correctness ({judge_label})": o.factual_correctness,
                "BERTScore P": o.scores["bertscore_precision"],
                "BERTScore R": o.scores["bertscore_recall"],
                "BERTScore F1": o.scores["bertscore_f1"],
                **{f"Similarity ({k.removeprefix('similarity_')})": o.scores[k] for k in similarity_keys},
            }
            for o in outcomes
        ]
    )


def overlap_table(outcomes: list[VariantOutcome]) -> pl.DataFrame:
    """Table 2 of the study: ROUGE-1/2/L precision, recall, F1 and BLEU per model."""
    names = {"rouge1": "ROUGE-1", "rouge2": "ROUGE-2", "rougeL": "ROUGE-L"}
    parts = {"precision": "P", "recall": "R", "f1": "F1"}
    return pl.DataFrame(
        [
            {
                "Model": o.model,
                "Variant": o.variant_id,
                **{f"{names[k]} {parts[p]}": o.scores[f"{k}_{p}"] for k in names for p in parts},
                "BLEU": o.scores["bleu"],
            }
            for o in outcomes
        ]
    )


def write_comparison(outcomes: list[VariantOutcome], judge_label: str, judge_note: str, out_dir: Path) -> Path:
    """quality.csv, overlap.csv and comparison.md (both tables with the judge's trust note)."""
    quality, overlap = quality_table(outcomes, judge_label), overlap_table(outcomes)
    quality.write_csv(out_dir / "quality.csv")
    overlap.write_csv(out_dir / "overlap.csv")
    text = "\n".join(
        [
            "# Comparison of the top models",
            "",
            markdown_table(quality),
            "",
            markdown_table(overlap),
            "",
            judge_note,
            "",
            "BERTScore is raw (no baseline rescaling exists for a local encoder); similarity is the mean cosine of "
            "sentence embeddings. Numbers from different encoders are not comparable.",
        ]
    )
    (out_dir / "comparison.md").write_text(text + "\n")
    plot_comparison(outcomes, out_dir / "comparison.png")
    return out_dir


def plot_comparison(outcomes: list[VariantOutcome], path: Path) -> Path:
    """Left: quality per model (baselines included). Right: quality against cost, the study's question."""
    import matplotlib

    matplotlib.use("Agg")  # headless: workers have no display
    import matplotlib.pyplot as plt

    names = [o.variant_id for o in outcomes]
    metrics = {"ROUGE-L F1": "rougeL_f1", "BERTScore F1": "bertscore_f1", "BLEU": "bleu"}
    figure, (bars, cost) = plt.subplots(1, 2, figsize=(14, 0.5 * len(outcomes) + 3))
    height = 0.8 / len(metrics)
    for offset, (label, key) in enumerate(metrics.items()):
        positions = [i + offset * height for i in range(len(outcomes))]
        bars.barh(positions, [o.scores[key] for o in outcomes], height=height, label=label)
    bars.set_yticks([i + height for i in range(len(outcomes))], names, fontsize=8)
    bars.invert_yaxis()
    bars.set_xlabel("score (0-1, higher is better)")
    bars.set_title("Quality on the test split")
    bars.legend(loc="lower right")
    for o in outcomes:
        cost.scatter(o.train_seconds + o.generation_seconds, o.scores["rougeL_f1"])
        cost.annotate(o.variant_id, (o.train_seconds + o.generation_seconds, o.scores["rougeL_f1"]), fontsize=7)
    cost.set_xlabel("training + generation time (s)")
    cost.set_ylabel("ROUGE-L F1")
    cost.set_title("Quality against cost")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
