"""`radimpress`: check a profile, or export synthetic reports, from the shell.

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
    from radimpress.modeling.registry import hub_token, preflight

    profile = load_profile(args.profile)
    preflight(profile, hub_token())
    result = ingest(profile.data)
    kept, quarantined = result.reports.height, result.quarantine.height
    reasons = result.quarantine.group_by("reason").len().sort("reason").iter_rows()
    by_reason = f" ({', '.join(f'{reason} {n}' for reason, n in reasons)})" if quarantined else ""
    print(f"profile '{profile.name}' is valid: {kept} reports usable, {quarantined} quarantined{by_reason}")


def _synthesize(args: argparse.Namespace) -> None:
    from radimpress.sim.synthetic import generate_reports

    frame = generate_reports(args.n, args.seed)
    path = Path(args.output)
    frame.write_parquet(path) if path.suffix == ".parquet" else frame.write_csv(path)
    print(f"wrote {frame.height} synthetic reports to {path}")


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
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except RadimpressError as exc:
        print(f"radimpress: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
