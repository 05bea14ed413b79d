"""MLflow logging: one parent run per flow run, one nested run per model variant.

These tasks are never cached: a flow run whose stages all come from cache still gets a complete
MLflow record. They are idempotent, so a retried flow run reuses its parent run and variant runs.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

import polars as pl
from mlflow.data.dataset_source_registry import resolve_dataset_source
from mlflow.data.meta_dataset import MetaDataset
from mlflow.entities import DatasetInput, InputTag, Metric, Param, RunStatus, RunTag
from mlflow.tracking import MlflowClient
from prefect import runtime, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from radimpress.config import Profile
from radimpress.config.variants import VariantSpec
from radimpress.data.phi import ID_COLUMNS, pseudonymise_ids, redact_frame
from radimpress.files import RUN_FACTS, data_dir, read_frame, read_json, write_frame
from radimpress.stages.judge import TRUST_FILE
from radimpress.stages.keys import fingerprint, library_versions

# MLflow's sqlite store is not safe for concurrent writers; mapped tasks run in threads.
_LOCK = threading.Lock()
FLOW_RUN_TAG = "prefect.flow_run_id"
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def provenance_tags() -> dict[str, str]:
    """The code and library versions behind a run: the git commit (with '+dirty' for uncommitted changes)."""

    def git(*args: str) -> str:
        try:
            done = subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10)
        except OSError:  # no git at all, as in the images: they record their commit in RADIMPRESS_GIT_COMMIT
            return ""
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "HEAD") or os.environ.get("RADIMPRESS_GIT_COMMIT") or "unknown"
    dirty = "+dirty" if git("status", "--porcelain", "--untracked-files=no") else ""
    return {"radimpress.git_commit": commit + dirty} | {f"version.{k}": v for k, v in library_versions().items()}


def tracking_uri() -> str:
    """$MLFLOW_TRACKING_URI (the MLflow server), else sqlite in the data directory."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{data_dir() / 'mlflow' / 'mlflow.db'}"


def _client() -> MlflowClient:
    (data_dir() / "mlflow").mkdir(parents=True, exist_ok=True)
    return MlflowClient(tracking_uri())


def _experiment_id(client: MlflowClient, name: str) -> str:
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    # A server decides where artifacts go; a local sqlite store keeps them beside its database.
    location = None if tracking_uri().startswith("http") else (data_dir() / "mlflow" / "artifacts").as_uri()
    return client.create_experiment(name, artifact_location=location)


def _find_run(client: MlflowClient, experiment_id: str, **tags: str) -> str | None:
    query = " and ".join(f"tags.`{k}` = '{v}'" for k, v in tags.items())
    runs = client.search_runs([experiment_id], filter_string=query, max_results=1)
    return runs[0].info.run_id if runs else None


def _log_all(
    client: MlflowClient,
    run_id: str,
    metrics: dict[str, float] | None = None,
    params: dict[str, object] | None = None,
    tags: dict[str, str] | None = None,
    curves: dict[str, list[tuple[int, float]]] | None = None,
) -> None:
    """Everything in as few requests as MLflow allows (it splits at its own batch limits): one request per value
    cost a cached flow run most of its time."""
    now = int(time.time() * 1000)
    batch = [Metric(key, float(value), now, 0) for key, value in (metrics or {}).items()]
    for key, points in (curves or {}).items():
        batch += [Metric(key, float(value), now, step) for step, value in points]
    client.log_batch(
        run_id,
        metrics=batch,
        params=[Param(key, str(value)) for key, value in (params or {}).items()],
        tags=[RunTag(key, str(value)) for key, value in (tags or {}).items()],
    )


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=3)
def start_tracking(profile: Profile) -> str:
    """Open (or, on a retry of the flow run, reopen) the parent MLflow run of this flow run."""
    flow_run_id = str(runtime.flow_run.id)
    with _LOCK:
        client = _client()
        experiment_id = _experiment_id(client, profile.tracking.experiment)
        run_id = _find_run(client, experiment_id, **{FLOW_RUN_TAG: flow_run_id})
        if run_id is None:
            tags = {FLOW_RUN_TAG: flow_run_id, "mlflow.runName": f"capstone-{profile.name}-{runtime.flow_run.name}"}
            run_id = client.create_run(experiment_id, tags=tags | provenance_tags()).info.run_id
        # A retry may follow a profile fix (say, review.scores_file): the record shows what this attempt ran.
        _log_all(client, run_id, tags={"profile": profile.name, "review.source": profile.review.source})
        client.log_dict(run_id, profile.model_dump(mode="json"), "profile.json")
        client.update_run(run_id, status="RUNNING")
    return run_id


def mark_parent_failed(flow, flow_run, state) -> None:
    """Flow-run failure hook: the parent MLflow run says FAILED instead of staying RUNNING (a retry reopens it)."""
    with _LOCK:
        client = _client()
        experiments = [e.experiment_id for e in client.search_experiments()]
        runs = client.search_runs(experiments, filter_string=f"tags.`{FLOW_RUN_TAG}` = '{flow_run.id}'", max_results=1)
        if runs:
            client.set_terminated(runs[0].info.run_id, "FAILED")


def _variant_run(client: MlflowClient, parent_run_id: str, variant: VariantSpec) -> str:
    experiment_id = client.get_run(parent_run_id).info.experiment_id
    run_id = _find_run(client, experiment_id, **{"mlflow.parentRunId": parent_run_id, "variant_id": variant.variant_id})
    if run_id is None:
        tags = {
            "mlflow.parentRunId": parent_run_id,
            "variant_id": variant.variant_id,
            "mlflow.runName": variant.variant_id,
        }
        run_id = client.create_run(experiment_id, tags=tags | provenance_tags()).info.run_id
    return run_id


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=3)
def log_variant(
    parent_run_id: str,
    variant: VariantSpec,
    finetune_dir: Path,
    generation_dir: Path,
    scores_path: Path,
    report_text: str,
) -> str:
    """Nested run of one variant: parameters, loss curve, validation scores (`val/...`: what selection read),
    timings, and the adapter as artifacts."""
    train, generation, scores = (
        read_json(finetune_dir / RUN_FACTS),
        read_json(generation_dir / RUN_FACTS),
        read_json(scores_path),
    )
    with _LOCK:
        client = _client()
        run_id = _variant_run(client, parent_run_id, variant)
        if client.get_run(run_id).info.status == RunStatus.to_string(RunStatus.FINISHED):
            return run_id  # logged completely by an earlier attempt of this flow run
        params = read_json(finetune_dir / "variant.json") | {"variant_id": variant.variant_id}
        metrics = {f"val/{key}": value for key, value in scores["values"].items()} | {
            "train_seconds": train["train_seconds"],
            "generation_seconds": generation["seconds"],
            "tokens_per_second": generation["tokens_per_second"],
            "train_peak_memory_gib": train.get("peak_memory_gib", 0.0),
            "generation_peak_memory_gib": generation.get("peak_memory_gib", 0.0),
        }
        tags = {f"encoder.{metric}": f"{e['name']} ({e['revision']})" for metric, e in scores["encoders"].items()}
        curves = {
            "train_loss": list(enumerate(train["losses"], start=1)),
            "val_loss": [(point["step"], point["loss"]) for point in train.get("validation_losses", [])],
        }
        if train.get("best_step") is not None:
            metrics["best_step"] = train["best_step"]
        _log_all(client, run_id, metrics, params, tags, curves)
        _log_adapter(client, run_id, finetune_dir / "adapter", with_tokenizer=report_text == "raw")
        _log_generations(client, run_id, generation_dir / "generations.parquet", report_text)
        client.set_terminated(run_id, "FINISHED")
    return run_id


def _log_generations(client: MlflowClient, run_id: str, generations: Path, report_text: str) -> None:
    """The test split with its generated impressions: as they are (raw), redacted (PHI replaced by tags, ids by
    salted pseudonyms), or not at all (none)."""
    if report_text == "none":
        return
    if report_text == "raw":
        client.log_artifact(run_id, str(generations), "generations")
        return
    frame = pseudonymise_ids(_redact_reports(read_frame(generations)), _id_salt())
    with tempfile.TemporaryDirectory() as folder:
        redacted = write_frame(frame, Path(folder) / "generations.redacted.parquet")
        client.log_artifact(run_id, str(redacted), "generations")


def _redact_reports(reports: pl.DataFrame) -> pl.DataFrame:
    """Every text column of whole reports redacted (`other_sections` too), before any column is picked: a name
    found in one column (the clinical information) is redacted in all of them. Ids are left to `pseudonymise_ids`:
    redacted first, numeric accession numbers would all become "[ID]" and share one pseudonym."""
    text = [c for c, dtype in reports.schema.items() if dtype == pl.String and c not in ID_COLUMNS]
    return redact_frame(reports, text)


def _id_salt() -> str:
    """A secret made once per installation (data/run/id_salt): pseudonyms join across runs, never leave reversible."""
    path = data_dir() / "run" / "id_salt"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(16))
        path.chmod(0o600)
    return path.read_text().strip()


TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja")


def _log_adapter(client: MlflowClient, run_id: str, adapter_dir: Path, with_tokenizer: bool) -> None:
    """The adapter (or fully fine-tuned model) with its loading note; the tokenizer only where report text may leave
    (a tiny base's tokenizer was trained on the reports, so its vocabulary holds their frequent fragments)."""
    if with_tokenizer:
        client.log_artifacts(run_id, str(adapter_dir), "adapter")
        return
    for path in sorted(adapter_dir.iterdir()):
        if path.is_file() and path.name not in TOKENIZER_FILES:
            client.log_artifact(run_id, str(path), "adapter")


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=3)
def tag_top_variants(
    variant_run_ids: list[str],
    top: list[int],
    test_generations: list[Path],
    test_scores: list[Path],
    judged_dirs: list[Path],
    comparison_dir: Path,
    review_source: str,
    report_text: str,
) -> None:
    """The top-k variant runs get their rank, their test scores (`test/...`) with 95% intervals (`..._ci_low`,
    `..._ci_high`), the judge's score and a per-report table, so the MLflow UI compares them side by side."""
    intervals = pl.read_csv(comparison_dir / "intervals.csv")
    humans = comparison_dir / "human_scores.csv"  # the reviewers' own mean per variant, when humans reviewed
    human_means = (
        dict(pl.read_csv(humans).select("Variant", "Mean score (reviewers)").iter_rows()) if humans.is_file() else {}
    )
    with _LOCK:
        client = _client()
        rows = zip(top, test_generations, test_scores, judged_dirs, strict=True)
        for rank, (index, generation_dir, scores_path, judged_dir) in enumerate(rows, start=1):
            run_id = variant_run_ids[index]
            variant_id = client.get_run(run_id).data.tags["variant_id"]
            tags = {"top_k_rank": rank, "top_k": "true", "factual_correctness.review_source": review_source}
            metrics = {f"test/{key}": value for key, value in read_json(scores_path)["values"].items()}
            for metric, low, high in (
                intervals.filter(pl.col("Variant") == variant_id).select("Metric", "CI low", "CI high").iter_rows()
            ):
                metrics |= {f"test/{metric}_ci_low": low, f"test/{metric}_ci_high": high}
            judged = read_json(judged_dir / "judged.json")["factual_correctness"]
            metrics |= {"factual_correctness_judge": judged, "test/factual_correctness": judged}
            if variant_id in human_means:
                metrics["factual_correctness_reviewers"] = human_means[variant_id]
            _log_all(client, run_id, metrics, tags=tags)
            per_report = scores_path.parent / "per_report.parquet"
            _log_per_report(client, run_id, generation_dir, per_report, judged_dir, report_text)


def _log_per_report(
    client: MlflowClient, run_id: str, generation_dir: Path, per_report: Path, judged_dir: Path, report_text: str
) -> None:
    """Each test report's scores as an MLflow table, with the report's text redacted (or raw, when the profile says
    so); ids only, pseudonymised, with `none`."""
    judged = read_frame(judged_dir / "judged.parquet").select("report_id", "factual_correctness")
    frame = read_frame(per_report).drop("bleu_stats").join(judged, on="report_id", how="left")
    if report_text != "none":
        reports = read_frame(generation_dir / "generations.parquet")
        # Redacted whole, then picked: "Roe" alone in the findings is a name because the clinical information,
        # not logged here, says "Patient Jane Roe".
        reports = _redact_reports(reports) if report_text == "redacted" else reports
        texts = reports.select("report_id", "findings", "reference", "generated")
        frame = texts.join(frame, on="report_id", how="left")
    if report_text != "raw":
        frame = pseudonymise_ids(frame, _id_salt())
    client.log_table(run_id, data=frame.to_pandas(), artifact_file="test/per_report.json")


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=3)
def log_splits(run_id: str, splits: dict[str, dict[str, Path]]) -> None:
    """Each split file as an MLflow dataset of the parent run (name, content digest, row count: no report text), and
    the split's overlap with train as metrics (`split.<modality>.test.impressions_in_train_share`, ...)."""
    inputs = []
    for modality, paths in splits.items():
        for name in ("train", "validation", "test"):
            source = resolve_dataset_source(paths[name].resolve().as_uri())
            digest = fingerprint(paths[name])["digest"][:16]
            reports = read_frame(paths[name]).height
            dataset = MetaDataset(source=source, name=f"{modality}-{name} ({reports} reports)", digest=digest)
            inputs.append(DatasetInput(dataset._to_mlflow_entity(), tags=[InputTag("mlflow.data.context", name)]))
    with _LOCK:
        client = _client()
        client.log_inputs(run_id, datasets=inputs)
        overlaps = {  # what of validation / test also occurs in train (leakage)
            f"split.{modality}.{split}.{key}": value
            for modality, paths in splits.items()
            for split, overlap in read_json(paths["overlap"]).items()
            for key, value in overlap.items()
        }
        _log_all(client, run_id, overlaps)


def compare_url(experiment_id: str, run_ids: list[str]) -> str:
    """The MLflow UI page that compares `run_ids` side by side (its own route: #/compare-runs)."""
    query = f"runs={quote(json.dumps(run_ids))}&experiments={quote(json.dumps([experiment_id]))}"
    server = tracking_uri() if tracking_uri().startswith("http") else "http://127.0.0.1:5000"  # `mlflow ui`'s own
    return f"{server}/#/compare-runs?{query}"


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=3)
def publish_eda(run_id: str, eda_dir: Path) -> None:
    """The EDA files (eda.html for radiologists) as artifacts of the parent run, its key numbers (rows kept and
    quarantined per reason, PHI counts, section lengths) as metrics, and a Prefect Markdown artifact."""
    create_markdown_artifact(key="eda", markdown=(eda_dir / "eda.md").read_text(), description="EDA key numbers")
    with _LOCK:
        client = _client()
        _log_all(client, run_id, {f"eda.{key}": value for key, value in read_json(eda_dir / "summary.json").items()})
        client.log_artifacts(run_id, str(eda_dir), "eda")


def _trust_metrics(judge_dir: Path) -> dict[str, float]:
    """The judge's, each metric's and the mean's out-of-fold agreement with the reviewers: trust.<predictor>.<statistic>
    with _ci_low / _ci_high (e.g. trust.judge.kendall_tau_b, trust.rougeL_f1.mae)."""
    from radimpress.evaluation.trust import STATISTICS

    metrics = {}
    for row in pl.read_csv(judge_dir / TRUST_FILE).iter_rows(named=True):
        name = "trust." + row["predictor"].replace(" ", "_")
        for statistic in (*STATISTICS, "mae_minus_mean"):
            metrics[f"{name}.{statistic}"] = row[statistic]
            metrics[f"{name}.{statistic}_ci_low"] = row[f"{statistic}_low"]
            metrics[f"{name}.{statistic}_ci_high"] = row[f"{statistic}_high"]
    return metrics


def _agreement_metrics(comparison_dir: Path) -> dict[str, float]:
    """Agreement between reviewers (review.krippendorff_alpha, review.kappa.<a>.<b>, with _ci_low / _ci_high)."""
    path = comparison_dir / "agreement.csv"
    if not path.is_file():
        return {}
    metrics = {}
    for row in pl.read_csv(path).iter_rows(named=True):
        name = "review." + row["Coefficient"].replace(" / ", ".").replace(" ", ".")
        metrics |= {name: row["Value"], f"{name}_ci_low": row["CI low"], f"{name}_ci_high": row["CI high"]}
    return metrics


def _log_human_feedback(client: MlflowClient, run_id: str, judge_dir: Path, report_text: str) -> None:
    """Each reviewer's score as MLflow 3 human feedback on a trace of its item (linked to the parent run): the
    reviewer as a salted pseudonym, the item by id (its text stays out), the comment only with `report_text: raw`."""
    import mlflow
    from mlflow.entities import AssessmentSource

    review_dir = read_json(judge_dir / "judge_base.json").get("review_dir")
    answers_path = Path(review_dir or "") / "answers.parquet"
    if review_dir is None or not answers_path.is_file():
        return
    experiment_id = client.get_run(run_id).info.experiment_id
    sources = read_frame(Path(review_dir) / "reviewed.parquet").group_by("item_id").agg(pl.col("variant_id").unique())
    variants = dict(sources.iter_rows())
    mlflow.set_tracking_uri(tracking_uri())
    salt = _id_salt()
    for answer in read_frame(answers_path).iter_rows(named=True):
        span = client.start_trace(
            "factual-correctness review",
            inputs={"item_id": answer["item_id"]},
            experiment_id=experiment_id,
            tags={"mlflow.sourceRun": run_id, "review.item_id": answer["item_id"]},
        )
        client.end_trace(span.trace_id, outputs={"variant_ids": sorted(variants.get(answer["item_id"], []))})
        mlflow.flush_trace_async_logging()
        reviewer = "reviewer-" + hashlib.sha256(f"{salt}:{answer['reviewer']}".encode()).hexdigest()[:12]
        mlflow.log_feedback(
            trace_id=span.trace_id,
            name="factual_correctness",
            value=answer["score"],
            source=AssessmentSource(source_type="HUMAN", source_id=reviewer),
            rationale=answer["comment"] or None if report_text == "raw" else None,
            metadata={"errors": answer["errors"]},
        )


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=3)
def finish_tracking(
    run_id: str, judge_dir: Path, comparison_dir: Path, top_run_ids: list[str], report_text: str
) -> str:
    """Publish the comparison (MLflow and Prefect artifacts), log the judge's trust numbers, close the parent run;
    return (and print, and keep beside the latest comparison) the MLflow page comparing the top variants."""
    judge = read_json(judge_dir / "judge.json")
    with (comparison_dir / "quality.csv").open() as handle:
        table = list(csv.DictReader(handle))
    create_table_artifact(key="comparison", table=table, description="Top models: cost and quality")
    create_markdown_artifact(key="comparison-report", markdown=(comparison_dir / "comparison.md").read_text())
    with _LOCK:
        client = _client()
        trust = ("n_items", "folds", "kendall_tau_b", "mae", "mae_minus_mean")
        metrics = {f"judge_{key}": judge[key] for key in trust} | _trust_metrics(judge_dir)
        _log_all(client, run_id, metrics | _agreement_metrics(comparison_dir))
        client.log_artifacts(run_id, str(comparison_dir), "comparison")
        client.log_dict(run_id, judge, "judge/judge.json")
        _log_adapter(client, run_id, judge_dir / "adapter", with_tokenizer=report_text == "raw")
        _log_human_feedback(client, run_id, judge_dir, report_text)
        url = compare_url(client.get_run(run_id).info.experiment_id, top_run_ids)
        client.set_tag(run_id, "compare_top_url", url)
        client.set_terminated(run_id, "FINISHED")
    latest = data_dir() / "latest" / str(runtime.flow_run.parameters.get("profile", "smoke")).replace("/", "_")
    shutil.copytree(comparison_dir, latest, dirs_exist_ok=True)
    (latest / "mlflow_compare_url.txt").write_text(url + "\n")
    print(f"MLflow comparison of the top {len(top_run_ids)} variants: {url}")
    return url
