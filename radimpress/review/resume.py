"""Resume the flow run that waits, suspended, for a review: Prefect's REST API, called with httpx (the library
never imports Prefect). The flow run re-runs from the top, takes every finished stage from cache, and suspends
again if answers are still missing."""

from __future__ import annotations

import os
import time

import httpx

from radimpress.errors import RadimpressError
from radimpress.review.pairwise import PairwiseReview
from radimpress.review.store import ReviewStore

# A flow run that is between states (just suspended and its process still exiting, or just resumed and
# re-running towards its next wait) cannot be resumed yet; it settles within seconds.
SETTLE_SECONDS = 60.0
_FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def resume_waiting_run(store: ReviewStore, api_url: str | None = None, settle_seconds: float = SETTLE_SECONDS) -> str:
    """Resume the store's waiting flow run; return what happened, in one line.

    A run that Prefect does not accept a resume for yet, because it is still on its way into (or out of)
    a suspension, is asked again every second for up to `settle_seconds`.

    Raises:
        RadimpressError: no flow run waits, no Prefect API is known, the run has ended, or Prefect kept
            refusing (with its last reason).
    """
    flow_run_id = store.waiting_flow_run()
    if flow_run_id is None:
        raise RadimpressError("no flow run is waiting for this review (a run with review.source: app records one)")
    api = (api_url or os.environ.get("PREFECT_API_URL") or "").rstrip("/")
    if not api:
        raise RadimpressError("set PREFECT_API_URL to the Prefect server the flow run is on")
    auth = os.environ.get("PREFECT_API_AUTH_STRING")
    with httpx.Client(base_url=api, auth=tuple(auth.split(":", 1)) if auth else None, timeout=30) as client:
        _resume_when_settled(client, flow_run_id, settle_seconds)
    missing = store.missing() + PairwiseReview(store).missing()
    if missing:
        return f"resumed flow run {flow_run_id}; {missing} answers are still missing, so it will wait again"
    return f"resumed flow run {flow_run_id}: every answer is in, it goes on to train the judge"


def _resume_when_settled(client: httpx.Client, flow_run_id: str, settle_seconds: float) -> None:
    deadline = time.monotonic() + settle_seconds
    while True:
        reason = _try_resume(client, flow_run_id)
        if reason is None:
            return
        state = _state(client, flow_run_id)
        if state.get("type") in _FINAL:
            raise RadimpressError(f"flow run {flow_run_id} has ended ({state.get('name')}); there is nothing to resume")
        if time.monotonic() >= deadline:
            where = f"it is {state.get('name') or 'in an unknown state'}"
            raise RadimpressError(f"Prefect did not resume flow run {flow_run_id} ({where}): {reason}")
        time.sleep(1.0)


def _try_resume(client: httpx.Client, flow_run_id: str) -> str | None:
    """None when Prefect accepted the resume, otherwise its reason."""
    try:
        response = client.post(f"/flow_runs/{flow_run_id}/resume", json={"run_input": {"done": True}})
    except httpx.TransportError as exc:
        raise RadimpressError(f"cannot reach the Prefect API at {client.base_url}: {exc}") from None
    body = response.json() if response.content else {}
    if response.status_code < 400 and body.get("status") == "ACCEPT":
        return None
    if response.status_code == 404:
        raise RadimpressError(f"Prefect has no flow run {flow_run_id}")
    return (body.get("details") or {}).get("reason") or body.get("detail") or response.text[:200]


def _state(client: httpx.Client, flow_run_id: str) -> dict:
    try:
        return client.get(f"/flow_runs/{flow_run_id}").json().get("state") or {}
    except (httpx.TransportError, ValueError):
        return {}
