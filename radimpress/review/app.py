"""The review page: one blinded item at a time, scored with the keyboard, every answer stored as it is given.

`create_app(store_path)` serves each reviewer's personal link `/review/<token>` (a page with a little plain
JavaScript, no build step) and the JSON API it calls. No response carries a model, variant or run identity: the
store's `sources` table, which says who wrote an item, is never read here.
"""

from __future__ import annotations

from pathlib import Path

import jinja2
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from radimpress.errors import RadimpressError
from radimpress.review.pairwise import REASONS, PairwiseReview
from radimpress.review.resume import resume_waiting_run
from radimpress.review.rubric import ERROR_CATEGORIES
from radimpress.review.store import (
    Answer,
    ReviewStore,
    StaleAnswer,
    UnknownItem,
    UnknownReviewer,
)

# Keys of the error categories on the page: the first letter of each, "l" for location, "o" for omitted.
CATEGORY_KEYS = {
    "false_finding": "f",
    "missing_finding": "m",
    "wrong_location": "l",
    "wrong_severity": "s",
    "unsupported_comparison": "u",
    "omitted_comparison": "o",
}
REASON_KEYS = {"fewer_errors": "e", "more_complete": "c", "more_concise": "s", "clearer": "w"}
_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("radimpress.review", "templates"), autoescape=True, undefined=jinja2.StrictUndefined
)


class AnswerIn(BaseModel):
    item_id: str
    score: int | float | str  # checked by the store, so a page and an imported sheet get the same message
    errors: dict[str, str] = Field(default_factory=dict)
    comment: str = ""
    version: int = Field(0, ge=0, description="The answer version the page saw; 0 when it saw none.")


def create_app(store_path: Path) -> FastAPI:
    store = ReviewStore(store_path)
    app = FastAPI(title="radimpress review", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(RadimpressError)
    async def refused(_request: Request, exc: RadimpressError) -> JSONResponse:
        status = 404 if isinstance(exc, UnknownReviewer | UnknownItem) else 409 if isinstance(exc, StaleAnswer) else 422
        return JSONResponse({"detail": str(exc)}, status_code=status)

    @app.get("/review/{token}", response_class=HTMLResponse)
    def page(token: str) -> str:
        reviewer = store.reviewer(token)
        categories = [{"name": c, "label": c.replace("_", " "), "key": CATEGORY_KEYS[c]} for c in ERROR_CATEGORIES]
        return _TEMPLATES.get_template("review.html.j2").render(
            reviewer=reviewer.name, token=token, categories=categories
        )

    @app.get("/api/review/{token}")
    def state(token: str) -> dict:
        reviewer = store.reviewer(token)
        done, total = store.progress(reviewer.name)
        state = {"position": store.first_unanswered(reviewer.name), "done": done, "total": total, "lead": reviewer.lead}
        return state | ({"missing_overall": store.missing()} if reviewer.lead else {})

    @app.post("/api/review/{token}/resume")
    def resume(token: str) -> dict:
        """The lead reviewer's "done": resume the flow run that waits for this review."""
        reviewer = store.reviewer(token)
        if not reviewer.lead:
            return JSONResponse({"detail": "only the lead reviewer can resume the flow run"}, status_code=403)
        # A page must answer while the reviewer waits: a run between states gets a few seconds, not a minute.
        return {"message": resume_waiting_run(store, settle_seconds=10)}

    @app.get("/api/review/{token}/items/{position}")
    def item(token: str, position: int) -> dict:
        reviewer = store.reviewer(token)
        order = store.assignment(reviewer.name)
        if not 0 <= position < len(order):
            raise UnknownItem(f"there is no item {position + 1}: this review set has {len(order)}")
        done, total = store.progress(reviewer.name)
        answer = store.answer(reviewer.name, order[position])
        return {
            "position": position,
            "done": done,
            "total": total,
            "item": store.item(order[position]),
            "answer": _answer_json(answer),
        }

    @app.post("/api/review/{token}/answers")
    def submit(token: str, body: AnswerIn) -> dict:
        reviewer = store.reviewer(token)
        answer = store.submit(reviewer.name, body.item_id, body.score, body.errors, body.comment, body.version)
        done, total = store.progress(reviewer.name)
        return {"answer": _answer_json(answer), "done": done, "total": total}

    _pairwise_routes(app, store)
    return app


class PairAnswerIn(BaseModel):
    pair_id: str
    choice: str
    reasons: list[str] = Field(default_factory=list)
    version: int = Field(0, ge=0)


def _pairwise_routes(app: FastAPI, store: ReviewStore) -> None:
    """The pairwise page (`/compare/<token>`): two impressions of one report, left and right, never named."""
    pairwise = PairwiseReview(store)

    @app.get("/compare/{token}", response_class=HTMLResponse)
    def compare_page(token: str) -> str:
        reviewer = store.reviewer(token)
        reasons = [{"name": r, "label": r.replace("_", " "), "key": REASON_KEYS[r]} for r in REASONS]
        return _TEMPLATES.get_template("pairwise.html.j2").render(reviewer=reviewer.name, token=token, reasons=reasons)

    @app.get("/api/compare/{token}")
    def compare_state(token: str) -> dict:
        return {"position": pairwise.first_unanswered(store.reviewer(token).name)}

    @app.get("/api/compare/{token}/items/{position}")
    def compare_item(token: str, position: int) -> dict:
        return pairwise.view(store.reviewer(token).name, position)

    @app.post("/api/compare/{token}/answers")
    def compare_submit(token: str, body: PairAnswerIn) -> dict:
        reviewer = store.reviewer(token).name
        pairwise.submit(reviewer, body.pair_id, body.choice, body.reasons, body.version)
        return {"saved": True}


def _answer_json(answer: Answer | None) -> dict | None:
    if answer is None:
        return None
    return {"score": answer.score, "errors": answer.errors, "comment": answer.comment, "version": answer.version}
