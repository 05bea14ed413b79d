"""Bootstrap of the team stack (`bootstrap` in docker/compose.yaml): what fresh Prefect and MLflow servers need
before the first `prefect deployment run capstone/full`. Every step looks before it creates, so it runs on every
`docker compose up` and changes only what differs.

  python deployments/team.py

Reads: PREFECT_API_URL and PREFECT_API_AUTH_STRING (the Prefect client's own settings), RADIMPRESS_WORK_POOL (the pool
the workers listen on), RADIMPRESS_GPU_SLOTS (GPUs the stack's workers hold in all), MLFLOW_TRACKING_URI,
MLFLOW_AUTH_ADMIN_PASSWORD, and MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD (the user flows log as).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from mlflow.exceptions import RestException
from mlflow.server.auth.client import AuthServiceClient
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.actions import (
    GlobalConcurrencyLimitCreate,
    GlobalConcurrencyLimitUpdate,
    WorkPoolCreate,
)
from prefect.exceptions import ObjectNotFound

GPU_LIMIT = "gpu"  # the global concurrency limit that tasks/gpu.py takes a slot of


def ensure_work_pool(client: SyncPrefectClient, name: str) -> str:
    """A process work pool called `name`: 'created' or 'kept'."""
    try:
        client.read_work_pool(name)
        return "kept"
    except ObjectNotFound:
        client.create_work_pool(WorkPoolCreate(name=name, type="process"))
        return "created"


def ensure_slots(client: SyncPrefectClient, name: str, slots: int) -> str:
    """A global concurrency limit with `slots` slots: 'created', 'kept' or 'resized'."""
    try:
        limit = client.read_global_concurrency_limit_by_name(name)
    except ObjectNotFound:
        client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=slots))
        return "created"
    if limit.limit == slots:
        return "kept"
    client.update_global_concurrency_limit(name, GlobalConcurrencyLimitUpdate(limit=slots))
    return "resized"


@contextlib.contextmanager
def _signed_in(username: str, password: str) -> Iterator[None]:
    """MLflow's auth client signs its requests with MLFLOW_TRACKING_USERNAME/PASSWORD: the admin's, for a while."""
    saved = {key: os.environ.get(key) for key in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")}
    os.environ |= {"MLFLOW_TRACKING_USERNAME": username, "MLFLOW_TRACKING_PASSWORD": password}
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def ensure_mlflow_user(tracking_uri: str, admin_password: str, username: str, password: str) -> str:
    """An MLflow user with this password (a rotated secret takes effect): 'created' or 'updated'."""
    with _signed_in("admin", admin_password):
        auth = AuthServiceClient(tracking_uri)
        try:
            auth.get_user(username)
        except RestException as error:
            if error.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            auth.create_user(username, password)
            return "created"
        auth.update_user_password(username, password)
        return "updated"


def main() -> None:
    from capstone_full import deploy  # beside this file; it imports the whole flow, so only when run

    pool = os.environ.get("RADIMPRESS_WORK_POOL", "gpu")
    with get_client(sync_client=True) as client:
        print(f"work pool {pool}: {ensure_work_pool(client, pool)}")
        slots = int(os.environ.get("RADIMPRESS_GPU_SLOTS", "1"))
        print(f"concurrency limit {GPU_LIMIT} ({slots} slots): {ensure_slots(client, GPU_LIMIT, slots)}")
    worker = os.environ["MLFLOW_TRACKING_USERNAME"]
    state = ensure_mlflow_user(
        os.environ["MLFLOW_TRACKING_URI"],
        os.environ["MLFLOW_AUTH_ADMIN_PASSWORD"],
        worker,
        os.environ["MLFLOW_TRACKING_PASSWORD"],
    )
    print(f"MLflow user {worker}: {state}")
    deploy()
    print(f"deployment capstone/full: registered on pool {pool}")


if __name__ == "__main__":
    main()
