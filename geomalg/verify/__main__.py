"""``python -m geomalg.verify``: run the registered numerical checks and print a report.

Exit status 0 when no selected check fails (skipped checks do not fail), 1 when any
fails, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

from geomalg.verify.runner import registry_checks, report, run_checks


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m geomalg.verify",
        description="Check geomalg's numerics against clifford, galgebra, SymPy derivations and algebraic identities.",
    )
    parser.add_argument("--full", action="store_true", help="also run every signature with n <= 8 (several minutes)")
    parser.add_argument("--list", action="store_true", help="list the selected checks without running them")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="PATTERN",
        help="run only checks whose name or label contains PATTERN (or matches it as a glob); repeatable",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--verbose", action="store_true", help="log the traceback of every check that raises")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    logging.basicConfig(level=logging.DEBUG if arguments.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if any(not pattern.strip() for pattern in arguments.only):
        print("--only needs a non-empty PATTERN, such as --only product.geometric", file=sys.stderr)
        return 2
    checks = registry_checks().select(full=arguments.full, patterns=arguments.only)
    if not checks:
        patterns = ", ".join(repr(pattern) for pattern in arguments.only)
        print(f"no check matches {patterns}; run with --list to see the names", file=sys.stderr)
        return 2
    if arguments.list:
        for check in checks:
            print(check.label)
        print(f"{len(checks)} checks")
        return 0

    start = time.perf_counter()
    outcomes = run_checks(checks, progress=not arguments.no_progress)
    report(sys.stdout, outcomes, time.perf_counter() - start)
    return 1 if any(outcome.failed for outcome in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
