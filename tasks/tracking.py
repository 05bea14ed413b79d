"""MLflow logging: one parent run per flow run, one nested run per model variant.

These tasks are never cached: a flow run whose stages all come from cache still gets a complete
MLflow record. They are idempotent, so a retried flow run reuses its parent run and variant runs.
"""

from __future__ import annotations

import csv
import os
import secrets
import shutil
import tempfile
import threading
from pathlib import Path

from mlflow.entities import RunStatus
from mlflow.tracking import MlflowClient
from prefect import runtime, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from radimpress.config import Profile
from radimpress.config.variants import VariantSpec
from radimpress.data.phi import pseudonymise_ids, redact_frame
from radimpress.files import RUN_FACTS, data_dir, read_frame, read_json, write_frame

# MLflow's sqlite store is not safe for concurrent writers; mapped tasks run in threads.
_LOCK = threading.Lock()
FLOW_RUN_TAG = "prefect.flow_run_id"


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
            run_id = client.create_run(experiment_id, tags=tags).info.run_id
        # A retry may follow a profile fix (say, review.scores_file): the record shows what this attempt ran.
        for key, value in {"profile": profile.name, "review.source": profile.review.source}.items():
            client.set_tag(run_id, key, value)
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
        run_id = client.create_run(experiment_id, tags=tags).info.run_id
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
    """Nested run of one variant: parameters, loss curve, scores, timings, and the adapter as artifacts."""
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
        for key, value in (read_json(finetune_dir / "variant.json") | {"variant_id": variant.variant_id}).items():
            client.log_param(run_id, key, value)
        for step, loss in enumerate(train["losses"], start=1):
            client.log_metric(run_id, "train_loss", loss, step=step)
        metrics = scores["values"] | {
            "train_seconds": train["train_seconds"],
            "generation_seconds": generation["seconds"],
            "tokens_per_second": generation["tokens_per_second"],
            "train_peak_memory_gib": train.get("peak_memory_gib", 0.0),
            "generation_peak_memory_gib": generation.get("peak_memory_gib", 0.0),
        }
        for key, value in metrics.items():
            client.log_metric(run_id, key, value)
        for metric, encoder in scores["encoders"].items():
            client.set_tag(run_id, f"encoder.{metric}", f"{encoder['name']} ({encoder['revision']})")
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
    frame = pseudonymise_ids(redact_frame(read_frame(generations)), _id_salt())
    with tempfile.TemporaryDirectory() as folder:
        redacted = write_frame(frame, Path(folder) / "generations.redacted.parquet")
        client.log_artifact(run_id, str(redacted), "generations")


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
def tag_top_variants(variant_run_ids: list[str], top: list[int], judged_dirs: list[Path], review_source: str) -> None:
    """Tag the top-k variant runs with their rank and judge score, so the MLflow UI compares them side by side."""
    with _LOCK:
        client = _client()
        for rank, (index, judged_dir) in enumerate(zip(top, judged_dirs, strict=True), start=1):
            run_id = variant_run_ids[index]
            client.set_tag(run_id, "top_k_rank", str(rank))
            client.set_tag(run_id, "top_k", "true")
            client.set_tag(run_id, "factual_correctness.review_source", review_source)
            judged = read_json(judged_dir / "judged.json")["factual_correctness"]
            client.log_metric(run_id, "factual_correctness_judge", judged)


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=3)
def publish_eda(run_id: str, eda_dir: Path) -> None:
    """The EDA files (eda.html for radiologists) as artifacts of the parent run, its key numbers (rows kept and
    quarantined per reason, PHI counts, section lengths) as metrics, and a Prefect Markdown artifact."""
    create_markdown_artifact(key="eda", markdown=(eda_dir / "eda.md").read_text(), description="EDA key numbers")
    with _LOCK:
        client = _client()
        for key, value in read_json(eda_dir / "summary.json").items():
            client.log_metric(run_id, f"eda.{key}", value)
        client.log_artifacts(run_id, str(eda_dir), "eda")


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=3)
def finish_tracking(run_id: str, judge_dir: Path, comparison_dir: Path, report_text: str) -> None:
    """Publish the comparison (MLflow and Prefect artifacts), log the judge's trust numbers, close the parent run."""
    judge = read_json(judge_dir / "judge.json")
    with (comparison_dir / "quality.csv").open() as handle:
        table = list(csv.DictReader(handle))
    create_table_artifact(key="comparison", table=table, description="Top models: cost and quality")
    create_markdown_artifact(key="comparison-report", markdown=(comparison_dir / "comparison.md").read_text())
    with _LOCK:
        client = _client()
        for key in ("holdout_mae", "baseline_mae", "n_train", "n_holdout"):
            client.log_metric(run_id, f"judge_{key}", judge[key])
        client.log_artifacts(run_id, str(comparison_dir), "comparison")
        client.log_dict(run_id, judge, "judge/judge.json")
        _log_adapter(client, run_id, judge_dir / "adapter", with_tokenizer=report_text == "raw")
        client.set_terminated(run_id, "FINISHED")
    latest = data_dir() / "latest" / str(runtime.flow_run.parameters.get("profile", "smoke")).replace("/", "_")
    shutil.copytree(comparison_dir, latest, dirs_exist_ok=True)
