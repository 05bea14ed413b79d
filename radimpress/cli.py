"""`radimpress`: check a profile, export synthetic reports, or run the reviewers' page, from the shell.

Errors a user can fix print one line on stderr and exit with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from radimpress.errors import RadimpressError


def _check(args: argparse.Namespace) -> None:
    from radimpress.config import load_profile
    from radimpress.data.ingest import ingest
    from radimpress.data.segment import segment_by_modality
    from radimpress.errors import InputDataError
    from radimpress.modeling.registry import hub_token, preflight
    from radimpress.stages.segment import require_modelled

    profile = load_profile(args.profile)
    _print_memory_plan(profile)
    _require_models(profile)
    preflight(profile, hub_token())  # before any work: downloads what the profile allows, checks vLLM
    result = ingest(profile.data)
    kept, quarantined = result.reports.height, result.quarantine.height
    reasons = result.quarantine.group_by("reason").len().sort("reason").iter_rows()
    by_reason = f" ({', '.join(f'{reason} {n}' for reason, n in reasons)})" if quarantined else ""
    if kept == 0:  # "valid: 0 reports usable" would send a user on to a flow that can only fail
        raise InputDataError(f"no report is usable: all {quarantined} rows were quarantined{by_reason}")
    segments = segment_by_modality(result.reports)
    require_modelled(segments, profile.data.model_modalities)
    print(f"data: {kept} reports usable, {quarantined} quarantined{by_reason}")
    _print_other_sections(result.reports)
    modelled = set(profile.data.model_modalities)
    by_size = sorted(segments.items(), key=lambda item: (-item[1].height, item[0]))
    shown = ", ".join(f"{m} {frame.height}{' (modelled)' if m in modelled else ''}" for m, frame in by_size)
    print(f"modalities: {shown}")
    print(f"profile '{profile.name}' is valid")


def _print_other_sections(reports) -> None:
    """What of the usable free-text reports no kept field holds, per reason: seen, counted, never trained on."""
    from radimpress.data.sections import other_sections_amounts

    amounts = {reason: a for reason, a in other_sections_amounts(reports).items() if a["reports"]}
    if amounts:
        shown = ", ".join(f"{r} {a['reports']} reports ({a['chars']:,} chars)" for r, a in amounts.items())
        print(f"text outside the kept fields (other_sections): {shown}")


def _print_memory_plan(profile) -> None:
    """The GPU memory each real model's fine-tune needs, before anything is downloaded or loaded."""
    import polars as pl

    from radimpress.markdown import markdown_table
    from radimpress.modeling.memory import profile_memory_plan

    rows = profile_memory_plan(profile)
    if rows:
        print("memory plan per GPU (estimated from each model's shape; the micro-batch is the largest that fits):")
        print(markdown_table(pl.DataFrame(rows)))


def _require_models(profile) -> None:
    """Every missing model named at once, with the command that fetches it (unless the profile downloads them)."""
    from radimpress.errors import ModelUnavailableError
    from radimpress.modeling.registry import download_command, missing_models

    missing = missing_models(profile)
    if not missing or profile.hub.download:
        return
    print("to download (where the Hub is reachable; gated models need HF_TOKEN), then copy HF_HOME here:")
    for name in missing:
        print(f"  {download_command(name, profile.hub)}    # {name}")
    raise ModelUnavailableError(
        f"{len(missing)} of the profile's models are not on this machine: {', '.join(missing)} (commands above; "
        "or set hub.download: true, or model_paths.<name> to a local folder)"
    )


def _synthesize(args: argparse.Namespace) -> None:
    from radimpress.sim.synthetic import generate_reports

    frame = generate_reports(args.n, args.seed)
    path = Path(args.output)
    frame.write_parquet(path) if path.suffix == ".parquet" else frame.write_csv(path)
    print(f"wrote {frame.height} synthetic reports to {path}")


def _store(args: argparse.Namespace):
    from radimpress.files import data_dir
    from radimpress.review.store import ReviewStore

    path = Path(args.store) if args.store else data_dir() / "review" / "review.sqlite"
    if not path.is_file():
        raise RadimpressError(f"no review store at {path}: a flow run with review.source: app publishes one")
    return ReviewStore(path)


def _base_url(args: argparse.Namespace) -> str:
    return f"http://{args.host}:{args.port}"


def _review_serve(args: argparse.Namespace) -> None:
    import uvicorn

    from radimpress.review.app import create_app

    store = _store(args)
    _review_links(args)
    uvicorn.run(create_app(store.path), host=args.host, port=args.port, log_level="warning")


def _review_links(args: argparse.Namespace) -> None:
    store = _store(args)
    for reviewer in store.reviewers():
        done, total = store.progress(reviewer.name)
        lead = " (lead)" if reviewer.lead else ""
        print(f"{reviewer.name}{lead}: {_base_url(args)}/review/{reviewer.token}  {done} of {total} answered")
        print(f"  pairwise (when the profile asks for pairs): {_base_url(args)}/compare/{reviewer.token}")


def _review_export(args: argparse.Namespace) -> None:
    store = _store(args)
    _known_reviewer(store, args.reviewer)
    path = store.export_sheet(args.reviewer, Path(args.csv))
    print(f"wrote {args.reviewer}'s {len(store.assignment(args.reviewer))} items to {path} (blinded)")


def _review_import(args: argparse.Namespace) -> None:
    store = _store(args)
    _known_reviewer(store, args.reviewer)
    count = store.import_sheet(args.reviewer, Path(args.csv))
    done, total = store.progress(args.reviewer)
    print(f"imported {count} answers for {args.reviewer}: {done} of {total} answered")


def _review_resume(args: argparse.Namespace) -> None:
    from radimpress.review.resume import resume_waiting_run

    print(resume_waiting_run(_store(args), args.api))


def _review_agreement(args: argparse.Namespace) -> None:
    from radimpress.evaluation.agreement import agreement, agreement_table

    print(agreement_table(agreement(_store(args).answers())).write_csv(), end="")


def _known_reviewer(store, name: str) -> None:
    names = [reviewer.name for reviewer in store.reviewers()]
    if name not in names:
        raise RadimpressError(f"no reviewer {name!r} in this review; its reviewers are {names}")


def _review_commands(commands) -> None:
    review = commands.add_parser("review", help="the reviewers' page, spreadsheets and agreement")
    actions = review.add_subparsers(dest="action", required=True)
    parsers = {
        "serve": (_review_serve, "serve the review page (127.0.0.1 unless --host says otherwise)"),
        "links": (_review_links, "print each reviewer's personal link and progress"),
        "export": (_review_export, "write a reviewer's items as a blinded CSV to fill in"),
        "import": (_review_import, "read a filled-in CSV back, validated row by row"),
        "resume": (_review_resume, "resume the flow run that waits for this review (PREFECT_API_URL)"),
        "agreement": (_review_agreement, "Krippendorff's alpha and pairwise kappa, with 95% intervals"),
    }
    for name, (run, help_text) in parsers.items():
        parser = actions.add_parser(name, help=help_text)
        parser.add_argument("--store", help="the review store (default: <data dir>/review/review.sqlite)")
        if name in ("serve", "links"):
            parser.add_argument("--host", default="127.0.0.1")
            parser.add_argument("--port", type=int, default=8765)
        if name == "resume":
            parser.add_argument("--api", help="the Prefect API (default: $PREFECT_API_URL)")
        if name in ("export", "import"):
            parser.add_argument("reviewer")
            parser.add_argument("csv")
        parser.set_defaults(run=run)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="radimpress", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="validate a profile, its models and its input data")
    check.add_argument("profile", help="shipped profile name or path to a profile YAML")
    check.set_defaults(run=_check)
    synth = commands.add_parser("synthesize", help="write synthetic reports to a CSV or Parquet file")
    synth.add_argument("output")
    synth.add_argument("--n", type=int, default=800)
    synth.add_argument("--seed", type=int, default=0)
    synth.set_defaults(run=_synthesize)
    _review_commands(commands)
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except RadimpressError as exc:
        print(f"radimpress: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
