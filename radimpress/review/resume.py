"""Resume the flow run that waits, suspended, for a review: Prefect's REST API, called with httpx (the library
never imports Prefect). The flow run re-runs from the top, takes every finished stage from cache, and suspends
again if answers are still missing."""

from __future__ import annotations

import os

import httpx

from radimpress.errors import RadimpressError
from radimpress.review.pairwise import PairwiseReview
from radimpress.review.store import ReviewStore


def resume_waiting_run(store: ReviewStore, api_url: str | None = None) -> str:
    """Resume the store's waiting flow run; return what happened, in one line.

    Raises:
        RadimpressError: no flow run waits, no Prefect API is known, or Prefect refused (with its reason).
    """
    flow_run_id = store.waiting_flow_run()
    if flow_run_id is None:
        raise RadimpressError("no flow run is waiting for this review (a run with review.source: app records one)")
    api = (api_url or os.environ.get("PREFECT_API_URL") or "").rstrip("/")
    if not api:
        raise RadimpressError("set PREFECT_API_URL to the Prefect server the flow run is on")
    auth = os.environ.get("PREFECT_API_AUTH_STRING")
    try:
        response = httpx.post(
            f"{api}/flow_runs/{flow_run_id}/resume",
            json={"run_input": {"done": True}},
            auth=tuple(auth.split(":", 1)) if auth else None,
            timeout=30,
        )
    except httpx.TransportError as exc:
        raise RadimpressError(f"cannot reach the Prefect API at {api}: {exc}") from None
    body = response.json() if response.content else {}
    if response.status_code >= 400 or body.get("status") != "ACCEPT":
        reason = (body.get("details") or {}).get("reason") or body.get("detail") or response.text[:200]
        raise RadimpressError(f"Prefect did not resume flow run {flow_run_id}: {reason}")
    missing = store.missing() + PairwiseReview(store).missing()
    if missing:
        return f"resumed flow run {flow_run_id}; {missing} answers are still missing, so it will wait again"
    return f"resumed flow run {flow_run_id}: every answer is in, it goes on to train the judge"
