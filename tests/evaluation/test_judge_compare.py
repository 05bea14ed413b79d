import json

import numpy as np
import polars as pl
import pytest
import torch

from radimpress.config import JudgeConfig, LoraConfig, TinyBaseConfig, TrainConfig
from radimpress.errors import RadimpressError
from radimpress.evaluation.compare import (
    PerReport,
    VariantOutcome,
    format_duration,
    intervals,
    not_worse_than_best,
    overlap_table,
    quality_table,
    significance_table,
    top_k_indices,
    write_comparison,
)
from radimpress.evaluation.judge import (
    ERRORS_CUE,
    SCORE_END,
    SCORES,
    describe_errors,
    error_slots,
    expected_counts,
    expected_score,
    expected_scores,
    judge_examples,
    judge_items,
    judge_prompt,
    judge_prompts,
    labelled_errors,
    learn_perturbations,
    load_judge,
    parse_error_slots,
    repeated_examples,
    train_judge,
)
from radimpress.evaluation.metrics import BLEU_STATS, bleu_statistics
from radimpress.evaluation.perturb import perturbation_pairs
from radimpress.modeling.loading import load_base_model, load_tokenizer
from radimpress.modeling.prompts import encode_prompts
from radimpress.review.rubric import ERROR_CATEGORIES, RubricWeights, score_from_errors, significant_column
from radimpress.sim.synthetic import generate_reports
from radimpress.sim.tiny import build_tiny_base

REPORTS = generate_reports(30, seed=1)
# 30 reviewed samples: each reference against the next report's impression, with reviewers' scores 0-10.
REVIEWED = pl.DataFrame(
    {
        "report_id": REPORTS["report_id"],
        "findings": REPORTS["findings"],
        "clinical_information": REPORTS["clinical_information"],
        "reference": REPORTS["impression"],
        "generated": REPORTS["impression"].shift(-1, fill_value=REPORTS["impression"][0]),
        "score": [float((3 * i) % 11) for i in range(30)],
    }
)


@pytest.fixture(scope="module")
def judge_base(tmp_path_factory):
    texts = judge_prompts(REVIEWED)
    return build_tiny_base(
        "tiny-llama",
        texts + [f" {s}" for s in SCORES],
        TinyBaseConfig(vocab_size=512, pretrain_steps=0),
        tmp_path_factory.mktemp("judge"),
    )


def test_judge_prompt_holds_what_the_rubric_reads():
    prompt = judge_prompt("Small right effusion.", "Cough.", "Moderate left effusion.", "Small right effusion.")
    assert "CLINICAL INFORMATION: Cough.\nFINDINGS: Small right effusion.\n" in prompt
    assert "REFERENCE IMPRESSION: Moderate left effusion." in prompt
    assert "GENERATED IMPRESSION: Small right effusion." in prompt
    assert prompt.index("FINDINGS") < prompt.index("REFERENCE") < prompt.index("GENERATED")
    assert prompt.endswith("(0-10):")
    assert "CLINICAL INFORMATION: none given" in judge_prompt("x", None, "y", "z")


def _with_errors(frame: pl.DataFrame, rows: list[dict[str, tuple[int, int]]]) -> pl.DataFrame:
    """Category columns (all errors) and their significant columns from (significant, minor) counts per row."""
    totals = [pl.Series(c, [sum(r.get(c, (0, 0))) for r in rows]) for c in ERROR_CATEGORIES]
    significant = [pl.Series(significant_column(c), [r.get(c, (0, 0))[0] for r in rows]) for c in ERROR_CATEGORIES]
    return frame.with_columns(*totals, *significant)


def test_targets_are_the_score_rounded_half_up_then_the_error_slots_where_categories_are_known():
    frame = REVIEWED.head(4).with_columns(pl.Series("score", [6.5, 7.5, 0.4, 10.0]))
    _, score_only = judge_examples(frame)
    assert score_only == [" 7\n", " 8\n", " 0\n", " 10\n"]  # a sheet of scores alone teaches the score alone
    errors = [{"false_finding": (1, 0)}, {"missing_finding": (0, 2), "wrong_location": (1, 0)}, {}, {}]
    usable = pl.Series("usable", [True, True, False, True])
    prompts, targets = judge_examples(_with_errors(frame, errors).with_columns(usable))
    assert prompts == judge_prompts(frame)
    assert targets == [
        f" 7\n{ERRORS_CUE} 1/0 0/0 0/0 0/0 0/0 0/0",
        f" 8\n{ERRORS_CUE} 0/0 0/2 1/0 0/0 0/0 0/0",
        f" 0\n{ERRORS_CUE} nothing usable",
        f" 10\n{ERRORS_CUE} 0/0 0/0 0/0 0/0 0/0 0/0",
    ]


def test_a_reviewed_items_last_repetition_carries_its_slots_and_the_others_its_score_alone():
    prompts, targets, scores_only = ["p0", "p1"], [" 7\nERRORS: 1/0", " 3\n"], [" 7\n", " 3\n"]
    assert repeated_examples(prompts, targets, scores_only, np.array([1, 0]), 3) == (
        ["p1", "p1", "p1", "p0", "p0", "p0"],
        [" 3\n", " 3\n", " 3\n", " 7\n", " 7\n", " 7\nERRORS: 1/0"],
    )
    assert repeated_examples(prompts, targets, scores_only, np.array([0]), 1) == (["p0"], [" 7\nERRORS: 1/0"])


def test_labelled_errors_are_none_where_a_row_or_the_frame_has_no_categories():
    assert labelled_errors(REVIEWED.head(2)) == [None, None]
    frame = _with_errors(REVIEWED.head(2), [{"wrong_severity": (1, 0)}, {}])
    assert labelled_errors(frame) == [{"wrong_severity": (1, 0)}, {}]
    with_gap = frame.with_columns(
        pl.when(pl.int_range(2) == 0).then(None).otherwise(pl.col("false_finding")).alias("false_finding")
    )
    assert labelled_errors(with_gap) == [None, {}]


def test_error_slots_read_back_and_anything_else_is_refused():
    counts = {"false_finding": (1, 0), "missing_finding": (0, 1), "omitted_comparison": (0, 3)}
    assert error_slots(counts) == "1/0 0/1 0/0 0/0 0/0 0/3"
    assert parse_error_slots(error_slots(counts)) == (counts, True)
    assert parse_error_slots("0/0 0/0 0/0 0/0 0/0 0/0\nSCORE 3") == ({}, True)
    assert parse_error_slots(error_slots({}, usable=False)) == ({}, False)
    assert describe_errors(counts) == "false_finding 1/0; missing_finding 0/1; omitted_comparison 0/3"
    assert describe_errors({}) == "none" and describe_errors({}, usable=False) == "nothing usable"
    garbage = [
        "",
        "none",
        "1/0 0/0",
        "1/0 0/0 0/0 0/0 0/0 0/0 0/0",
        "a/b 0/0 0/0 0/0 0/0 0/0",
        "1/0/0 0/0 0/0 0/0 0/0 0/0",
        "-1/0 0/0 0/0 0/0 0/0 0/0",
        "100/0 0/0 0/0 0/0 0/0 0/0",
        "falsething usingaryable",
        "\x00\ufffd",
        "1/ 0",
    ]
    assert [parse_error_slots(text) for text in garbage] == [None] * len(garbage)


def test_the_rubric_gives_every_perturbation_pair_its_score_back_from_its_categories():
    """The perturbations' scores and categories are built together; the score derived from the categories must
    be the same number, or the judge's "score from errors" would learn one rubric and apply another."""
    weights = RubricWeights(contradiction=5, major_omission=3, minor_omission=1.5, unsupported_addition=2.5)
    pairs = perturbation_pairs(generate_reports(200, seed=3), 400, seed=1, weights=weights)
    derived = [score_from_errors(errors, weights) for errors in labelled_errors(pairs)]
    assert pairs["kinds"].str.contains(",").sum() > 50  # pairs with two or three errors are among them
    assert derived == pytest.approx(pairs["score"].to_list())
    assert score_from_errors({"false_finding": (1, 1), "missing_finding": (1, 1)}) == 10 - 4 - 2 - 3 - 1
    assert score_from_errors({"wrong_location": (3, 0)}) == 0.0  # floored


def _expected_score_one_candidate_at_a_time(model, tokenizer, prompt: str) -> float:
    """The same expectation, scoring each candidate in its own unpadded forward pass."""
    prompt_ids = encode_prompts(tokenizer, [prompt])[0]
    totals = []
    for score in SCORES:
        candidate = tokenizer(f" {score}{SCORE_END}", add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([prompt_ids + candidate])).logits[0]
        log_probs = torch.log_softmax(logits.float(), dim=-1)
        totals.append(sum(log_probs[len(prompt_ids) + j - 1, t].item() for j, t in enumerate(candidate)))
    weights = torch.softmax(torch.tensor(totals), dim=0)
    return float((weights * torch.tensor(SCORES, dtype=weights.dtype)).sum())


def test_expected_score_is_a_weighted_mean_of_the_score_words(judge_base):
    model, tokenizer = load_base_model(judge_base).eval(), load_tokenizer(judge_base)
    prompt = judge_prompts(REVIEWED)[0]
    score = expected_score(model, tokenizer, prompt)
    assert 0.0 <= score <= 10.0
    assert score == pytest.approx(_expected_score_one_candidate_at_a_time(model, tokenizer, prompt), abs=1e-4)


def test_batched_scores_equal_one_prompt_at_a_time(judge_base):
    """Prompts of every length in batches that pad them: the same expectation as each prompt alone."""
    model, tokenizer = load_base_model(judge_base).eval(), load_tokenizer(judge_base)
    prompts = judge_prompts(REVIEWED)[:9]
    alone = [_expected_score_one_candidate_at_a_time(model, tokenizer, prompt) for prompt in prompts]
    assert len({len(tokenizer(p)["input_ids"]) for p in prompts}) > 3  # padding really happens
    assert expected_scores(model, tokenizer, prompts, batch_size=4) == pytest.approx(alone, abs=1e-5)
    assert expected_scores(model, tokenizer, [], batch_size=4) == []


def test_train_judge_scores_every_item_from_a_fold_that_never_saw_its_report(judge_base, tmp_path):
    reviewed = pl.concat([REVIEWED, REVIEWED.head(6).with_columns(pl.col("score") / 2)])  # 6 reports twice
    cfg = JudgeConfig(
        lora=LoraConfig(r=4, alpha=8, dropout=0.0),
        train=TrainConfig(epochs=1, learning_rate=0.01, batch_size=12, max_length=128, seed=0),
        folds=3,
    )
    cfg = cfg.model_copy(update={"human_weight": 2, "perturbation_epochs": 1})
    learnt = learn_perturbations(judge_base, perturbation_pairs(REPORTS, 10, seed=0), cfg, tmp_path / "perturbations")
    result = train_judge(judge_base, reviewed, cfg, tmp_path, start_from=learnt)
    oof = result.out_of_fold
    assert oof.height == 36 and oof["judge"].is_between(0, 10).all()
    assert oof.group_by("report_id").agg(pl.col("fold").n_unique())["fold"].max() == 1  # a report, one fold
    assert sorted(oof["fold"].unique()) == [0, 1, 2]
    assert (result.adapter_dir / "adapter_model.safetensors").is_file()
    assert not any((tmp_path / "folds").glob("*/adapter"))  # fold weights are not kept
    learnt_first = json.loads((tmp_path / "perturbations" / "run.json").read_text())
    assert learnt_first["n_examples"] == 10  # the perturbations, once, before any fold
    final = json.loads((tmp_path / "run.json").read_text())
    assert final["n_examples"] == 2 * 36  # then every reviewed item twice
    fold = json.loads((tmp_path / "folds" / "0" / "run.json").read_text())
    assert fold["n_examples"] == 2 * (36 - (oof["fold"] == 0).sum())
    model, tokenizer = load_judge(judge_base, result.adapter_dir)
    assert not hasattr(model, "peft_config")  # the LoRA adapter is merged for scoring
    assert {"judge_direct", "judge_from_errors", "errors", "errors_readable"} <= set(oof.columns)
    assert oof["judge"].to_list() == oof["judge_direct"].to_list()  # the default: judge.score_from direct


def test_expected_counts_are_each_slots_mean_digit_batched_as_one_prompt_at_a_time(judge_base):
    """Slots teacher-forced after prompts of several lengths (padded batches): each written digit's expected value
    under the digit probabilities, the same as prompt by prompt."""
    model, tokenizer = load_base_model(judge_base).eval(), load_tokenizer(judge_base)
    prompts = judge_prompts(REVIEWED)[:7]
    encoded = [
        p + tokenizer(f" 7{SCORE_END}{ERRORS_CUE}", add_special_tokens=False)["input_ids"]
        for p in encode_prompts(tokenizer, prompts)
    ]
    written = [tokenizer(f" {i}/0 0/1 0/0 0/0 0/{i % 2} 0/0", add_special_tokens=False)["input_ids"] for i in range(7)]
    written[3] = tokenizer(" 1/0 0/0", add_special_tokens=False)["input_ids"]  # two slots: not twelve digits
    batched = expected_counts(model, tokenizer, encoded, written, batch_size=3)
    digit_ids = [tokenizer(str(d), add_special_tokens=False)["input_ids"][0] for d in range(10)]
    assert batched[3] is None
    for ids, tokens, counts in zip(encoded, written, batched, strict=True):
        if counts is None:
            continue
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([ids + tokens])).logits[0]
        probs = torch.softmax(logits[:, digit_ids].float(), dim=-1) @ torch.arange(10.0)
        alone = [float(probs[len(ids) + t - 1]) for t, token in enumerate(tokens) if token in digit_ids]
        assert list(counts) == list(ERROR_CATEGORIES)
        assert [v for pair in counts.values() for v in pair] == pytest.approx(alone, abs=1e-4)


def test_the_judge_gives_both_scores_and_falls_back_to_the_direct_one_where_its_slots_are_unreadable(judge_base):
    model, tokenizer = load_base_model(judge_base).eval(), load_tokenizer(judge_base)
    prompts = judge_prompts(REVIEWED)[:5]
    said = judge_items(model, tokenizer, prompts, batch_size=2)  # an untrained judge writes garbage
    assert [j.direct for j in said] == pytest.approx(expected_scores(model, tokenizer, prompts), abs=1e-6)
    for judgement in said:
        if not judgement.readable:
            assert judgement.from_errors == judgement.direct
        assert 0.0 <= judgement.from_errors <= 10.0


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(3.2, "3.2s"), (0.04, "0.0s"), (987, "16min 27s"), (60, "1min 0s"), (6120, "1h 42min"), (3600, "1h 0min")],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def _outcome(variant_id: str, rouge_l: float, model: str = "tiny-llama", input_config: str = "findings"):
    scores = {
        f"{k}_{p}": 0.1 for k in ("rouge1", "rouge2", "rougeL", "rougeLsum") for p in ("precision", "recall", "f1")
    }
    scores |= {"rougeL_f1": rouge_l, "bleu": 0.05, "bertscore_precision": 0.8, "bertscore_recall": 0.7}
    scores |= {"bertscore_f1": 0.75, "similarity_all-MiniLM-L6-v2": 0.6, "similarity_RadBERT": 0.9}
    return VariantOutcome(
        variant_id,
        model,
        input_config,
        987.0,
        3.2,
        41.26,
        scores,
        factual_correctness=6.5,
        peak_memory_gib=1.234,
        intervals={"rougeL_f1": (rouge_l - 0.05, rouge_l + 0.05), "factual_correctness": (6.0, 7.0)},
    )


OUTCOMES = [
    _outcome("a", 0.30),
    _outcome("b", 0.50, "tiny-mistral", "findings_clinical"),
    _outcome("c", 0.30, input_config="instruction"),
    _outcome("d", 0.10),
]


def test_top_k_per_model_keeps_only_each_models_best():
    values = [0.30, 0.50, 0.45, 0.20, 0.40]
    models = ["llama", "llama", "mistral", "mistral", "llama-m"]
    assert top_k_indices(values, 5, models) == [1, 2, 4]
    assert top_k_indices(values, 2, models) == [1, 2]
    assert top_k_indices(values, 5) == [1, 2, 4, 0, 3]


def test_top_k_indices_by_metric_with_stable_ties():
    values = [o.scores["rougeL_f1"] for o in OUTCOMES]
    assert [OUTCOMES[i].variant_id for i in top_k_indices(values, 3)] == ["b", "a", "c"]
    assert [OUTCOMES[i].variant_id for i in top_k_indices(values, 10)] == ["b", "a", "c", "d"]


def test_quality_table_follows_the_study():
    table = quality_table(OUTCOMES[:2], "judge, trained on SIMULATED reviews")
    assert table.columns == [
        "Model",
        "Input",
        "Variant",
        "Training time",
        "Generation time",
        "Tokens/s",
        "Peak memory (GiB)",
        "Factual correctness (judge, trained on SIMULATED reviews)",
        "BERTScore P",
        "BERTScore R",
        "BERTScore F1",
        "Similarity (RadBERT)",
        "Similarity (all-MiniLM-L6-v2)",
    ]
    assert table.row(1) == (
        "tiny-mistral",
        "Clinical + Findings",
        "b",
        "16min 27s",
        "3.2s",
        41.3,
        1.23,
        6.5,
        0.8,
        0.7,
        0.75,
        0.9,
        0.6,
    )


def test_overlap_table_follows_the_study():
    table = overlap_table(OUTCOMES[:2])
    rouge = [f"ROUGE-{n} {p}" for n in ("1", "2", "L", "Lsum") for p in ("P", "R", "F1")]
    assert table.columns == ["Model", "Variant", *rouge, "BLEU"]
    assert table["ROUGE-L F1"].to_list() == [0.30, 0.50]
    assert table["BLEU"].to_list() == [0.05, 0.05]


def test_write_comparison_writes_both_tables_and_the_note(tmp_path):
    assert write_comparison(OUTCOMES, "judge", ["Judge MAE 1.20 on 20 held-out reviews."], tmp_path) == tmp_path
    assert pl.read_csv(tmp_path / "quality.csv")["Variant"].to_list() == ["a", "b", "c", "d"]
    assert pl.read_csv(tmp_path / "overlap.csv")["ROUGE-L F1"].to_list() == [0.30, 0.50, 0.30, 0.10]
    text = (tmp_path / "comparison.md").read_text()
    assert text.startswith("# Comparison of the top models (test split; chosen on the validation split)\n")
    assert "| tiny-mistral | Clinical + Findings | b | 16min 27s | 3.2s | 41.30 | 1.23 | 6.50 [6.00, 7.00] |" in text
    assert "| 0.50 [0.45, 0.55] |" in text  # ROUGE-L F1 of b with its interval
    intervals = pl.read_csv(tmp_path / "intervals.csv")
    assert intervals.filter(pl.col("Variant") == "b", pl.col("Metric") == "rougeL_f1").row(0) == (
        "b",
        "rougeL_f1",
        0.5,
        0.45,
        0.55,
    )
    assert "| Model | Variant | ROUGE-1 P |" in text
    assert "Judge MAE 1.20 on 20 held-out reviews." in text
    png = (tmp_path / "comparison.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000


def _per_report(rouge: list[float], judged: list[float] | None = None) -> PerReport:
    ids = [str(i) for i in range(len(rouge))]
    statistics = bleu_statistics(["no acute finding"] * len(rouge), ["no acute finding here"] * len(rouge))
    scores = pl.DataFrame({"report_id": ids, "rougeL_f1": rouge}).with_columns(
        pl.Series(BLEU_STATS, statistics.tolist(), dtype=pl.List(pl.Int64))
    )
    judged_frame = pl.DataFrame({"report_id": ids, "factual_correctness": judged}) if judged else None
    return PerReport(scores, judged_frame)


def test_intervals_cover_every_metric_and_the_judge():
    rng = np.random.default_rng(0)
    found = intervals(_per_report(list(rng.uniform(0.2, 0.6, 50)), list(rng.uniform(3, 8, 50))))
    assert set(found) == {"rougeL_f1", "bleu", "factual_correctness"}
    assert found["rougeL_f1"][0] < 0.4 < found["rougeL_f1"][1]
    assert found["bleu"][0] == found["bleu"][1]  # every report identical: corpus BLEU does not move


def test_significance_marks_models_not_told_apart_from_the_best():
    rng = np.random.default_rng(2)
    best = rng.uniform(0.3, 0.7, 60)
    close, worse, baseline = best - rng.normal(0, 0.01, 60), best - 0.2, best - 0.25
    names = ["best", "close", "worse", "baseline"]
    per_reports = [_per_report(list(v)) for v in (best, close, worse, baseline)]
    table = significance_table(names, per_reports, "rougeL_f1", baselines=[3])
    assert table["Against"].to_list() == ["best", "best", "baseline", "baseline", "baseline"]
    assert table.filter(pl.col("Model") == "worse", pl.col("Against") == "best")["p (Holm)"][0] < 0.01
    assert table.filter(pl.col("Model") == "close", pl.col("Against") == "best")["p (Holm)"][0] > 0.05
    assert not_worse_than_best(table, names, baselines=[3]) == [True, True, False]


def test_a_paired_test_on_too_few_reports_names_the_problem():
    with pytest.raises(RadimpressError, match="paired test of rougeL_f1 of b and a: only 5 test reports"):
        significance_table(["a", "b"], [_per_report([0.1] * 5), _per_report([0.2] * 5)], "rougeL_f1", baselines=[])
