"""The team stack's servers for real, as docker/compose.yaml configures them (its rendered command lines and
environments, through docker/entrypoint.sh and the secrets docker/secrets.sh makes), with sqlite where the stack has
PostgreSQL: logins are refused or accepted, MLflow refuses foreign Host headers and experiments nobody granted, and
deployments/team.py bootstraps a fresh stack and changes only what differs when run again."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
BIN = ROOT / ".venv/bin"
POOL = "radiology-gpus"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer: {log.read_text()[-3000:]}")


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_", "RADIMPRESS_"))}


class Team:
    """Prefect and MLflow started from the compose file's own settings; the secrets are files, as in the stack."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.secrets = folder / "secrets"
        subprocess.run([str(DOCKER / "secrets.sh"), str(self.secrets)], check=True, capture_output=True)
        rendered = subprocess.run(
            [str(BIN / "docker-compose"), "-f", str(DOCKER / "compose.yaml"), "config", "--format", "json"],
            env=_clean_env() | {"RADIMPRESS_SECRETS": str(self.secrets), "RADIMPRESS_WORK_POOL": POOL},
            capture_output=True,
            text=True,
            check=True,
        )
        self.services = json.loads(rendered.stdout)["services"]
        self.prefect_port, self.mlflow_port = _free_port(), _free_port()
        self.api = f"http://127.0.0.1:{self.prefect_port}/api"
        self.mlflow = f"http://127.0.0.1:{self.mlflow_port}"
        self.processes: list[subprocess.Popen] = []

    def secret(self, name: str) -> str:
        return (self.secrets / name).read_text().strip()

    def _in_container(self, service: str, environment: dict[str, str]) -> dict[str, str]:
        """The service's environment with its /run/secrets paths pointing at the secrets folder."""
        env = {k: v.replace("/run/secrets/", f"{self.secrets}/") for k, v in environment.items()}
        return _clean_env() | env | {"RADIMPRESS_SECRETS_DIR": str(self.secrets)}

    def _start(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = self.folder / f"{name}.log"
        process = subprocess.Popen(
            [str(DOCKER / "entrypoint.sh"), *command], env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
        )
        self.processes.append(process)
        return process

    def start(self) -> None:
        prefect = self.services["prefect-server"]
        env = {k: v for k, v in prefect["environment"].items() if not k.startswith("PREFECT_SERVER_DATABASE_")}
        env |= {"PREFECT_HOME": str(self.folder / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
        env["PREFECT_SERVER_UI_STATIC_DIRECTORY"] = str(self.folder / "prefect" / "ui")
        command = [str(BIN / "prefect"), *prefect["command"][1:]]
        command[command.index("--host") + 1], command[command.index("--port") + 1] = "127.0.0.1", str(self.prefect_port)
        prefect_process = self._start("prefect", command, self._in_container("prefect-server", env))

        mlflow = self.services["mlflow-server"]
        ini = (DOCKER / "mlflow-auth.ini").read_text()
        database = next(line for line in ini.splitlines() if line.startswith("database_uri"))
        (self.folder / "mlflow-auth.ini").write_text(
            ini.replace(database, f"database_uri = sqlite:///{self.folder / 'auth.db'}")
        )
        local = {
            "--host": "127.0.0.1",
            "--port": str(self.mlflow_port),
            "--workers": "1",
            "--backend-store-uri": f"sqlite:///{self.folder / 'mlflow.db'}",
            "--artifacts-destination": str(self.folder / "artifacts"),
        }
        command = [str(BIN / "mlflow"), "server"]
        for arg in mlflow["command"][2:]:
            option, value = arg.split("=", 1)
            command.append(f"{option}={local.get(option, value)}")
        env = mlflow["environment"] | {
            "MLFLOW_AUTH_CONFIG_PATH": str(self.folder / "mlflow-auth.ini"),
            "MLFLOW_DISABLE_TELEMETRY": "true",
        }
        mlflow_process = self._start("mlflow", command, self._in_container("mlflow-server", env))
        _wait(f"{self.api}/health", prefect_process, self.folder / "prefect.log")
        _wait(f"{self.mlflow}/health", mlflow_process, self.folder / "mlflow.log")

    def bootstrap(self) -> subprocess.CompletedProcess:
        """deployments/team.py as the compose file's bootstrap job runs it."""
        environment = self.services["bootstrap"]["environment"] | {
            "PREFECT_API_URL": self.api,
            "MLFLOW_TRACKING_URI": self.mlflow,
            "RADIMPRESS_GPU_SLOTS": "3",
        }
        command = [str(DOCKER / "entrypoint.sh"), str(BIN / "python"), "deployments/team.py"]
        env = self._in_container("bootstrap", environment)
        return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="module")
def team(tmp_path_factory):
    team = Team(tmp_path_factory.mktemp("team"))
    try:
        team.start()
        yield team
    finally:
        team.stop()


@pytest.fixture(scope="module")
def bootstrapped(team):
    done = team.bootstrap()
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _prefect_auth(team) -> tuple[str, str]:
    user, password = team.secret("prefect_auth").split(":", 1)
    return user, password


def test_prefect_refuses_requests_without_the_right_login(team):
    route = f"{team.api}/work_pools/filter"
    user, password = _prefect_auth(team)
    assert httpx.post(route, json={}).status_code == 401
    assert httpx.post(route, json={}, auth=(user, password + "x")).status_code == 401
    assert httpx.post(route, json={}, auth=(user, password)).status_code == 200
    assert httpx.get(f"{team.api}/health").status_code == 200  # open by Prefect's design: it says only "up"


def test_mlflow_refuses_missing_logins_wrong_passwords_and_foreign_hosts(team):
    route = f"{team.mlflow}/api/2.0/mlflow/experiments/search"
    admin = ("admin", team.secret("mlflow_admin_password"))
    assert httpx.get(route, params={"max_results": 1}).status_code == 401
    assert httpx.get(route, params={"max_results": 1}, auth=("admin", "wrong-password-1")).status_code == 401
    assert httpx.get(route, params={"max_results": 1}, auth=admin).status_code == 200
    # DNS rebinding: a page on another site that resolves to this server is refused before any login.
    foreign = httpx.get(route, params={"max_results": 1}, auth=admin, headers={"Host": "mlflow.attacker.example"})
    assert foreign.status_code == 403


def test_bootstrap_makes_a_fresh_stack_ready_for_the_deployment(team, bootstrapped):
    assert f"work pool {POOL}: created" in bootstrapped
    assert "concurrency limit gpu (3 slots): created" in bootstrapped
    assert "MLflow user radimpress-worker: created" in bootstrapped
    auth = _prefect_auth(team)
    pool = httpx.get(f"{team.api}/work_pools/{POOL}", auth=auth).json()
    assert pool["type"] == "process"
    assert httpx.get(f"{team.api}/v2/concurrency_limits/gpu", auth=auth).json()["limit"] == 3
    deployment = httpx.get(f"{team.api}/deployments/name/capstone/full", auth=auth).json()
    assert deployment["work_pool_name"] == POOL  # the pool the compose file's workers listen on


def test_a_worker_sees_only_the_experiments_it_was_granted(team, bootstrapped):
    from mlflow.server.auth.client import AuthServiceClient
    from mlflow.tracking import MlflowClient

    admin = ("admin", team.secret("mlflow_admin_password"))
    worker = ("radimpress-worker", team.secret("mlflow_worker_password"))
    created = httpx.post(f"{team.mlflow}/api/2.0/mlflow/experiments/create", json={"name": "ward-7"}, auth=admin)
    experiment_id = created.json()["experiment_id"]
    route = f"{team.mlflow}/api/2.0/mlflow/experiments/get"
    assert httpx.get(route, params={"experiment_id": experiment_id}, auth=worker).status_code == 403
    env = {"MLFLOW_TRACKING_USERNAME": admin[0], "MLFLOW_TRACKING_PASSWORD": admin[1]}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        AuthServiceClient(team.mlflow).grant_user_permission(worker[0], "experiment", experiment_id, "READ")
    assert httpx.get(route, params={"experiment_id": experiment_id}, auth=worker).status_code == 200
    run = {"experiment_id": experiment_id, "start_time": 0}
    assert httpx.post(f"{team.mlflow}/api/2.0/mlflow/runs/create", json=run, auth=worker).status_code == 403  # READ
    # Its own experiments it manages: what a flow run creates, it can log to.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_USERNAME", worker[0])
        patch.setenv("MLFLOW_TRACKING_PASSWORD", worker[1])
        client = MlflowClient(team.mlflow)
        own = client.create_experiment("radimpress-team-check")
        assert client.create_run(own).info.status == "RUNNING"


def test_bootstrap_again_changes_only_what_differs(team, bootstrapped):
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    spec = importlib.util.spec_from_file_location("team_bootstrap", ROOT / "deployments/team.py")
    bootstrap = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bootstrap)
    ensure_mlflow_user, ensure_slots, ensure_work_pool = (
        bootstrap.ensure_mlflow_user,
        bootstrap.ensure_slots,
        bootstrap.ensure_work_pool,
    )

    with temporary_settings({PREFECT_API_URL: team.api, PREFECT_API_AUTH_STRING: team.secret("prefect_auth")}):
        with get_client(sync_client=True) as client:
            assert ensure_work_pool(client, POOL) == "kept"
            assert ensure_slots(client, "gpu", 3) == "kept"
            assert ensure_slots(client, "gpu", 2) == "resized"
            assert client.read_global_concurrency_limit_by_name("gpu").limit == 2
    # A rotated worker secret takes effect: the old password stops working, the new one works.
    admin_password, old = team.secret("mlflow_admin_password"), team.secret("mlflow_worker_password")
    assert ensure_mlflow_user(team.mlflow, admin_password, "radimpress-worker", "rotated-password-42") == "updated"
    route = f"{team.mlflow}/api/2.0/mlflow/experiments/search"
    assert httpx.get(route, params={"max_results": 1}, auth=("radimpress-worker", old)).status_code == 401
    new = ("radimpress-worker", "rotated-password-42")
    assert httpx.get(route, params={"max_results": 1}, auth=new).status_code == 200
