"""``python -m benchmarks``: measure sttdesk against whisper.cpp and faster-whisper, write results and report.

Examples, from the repository root::

    python -m benchmarks                      # the default set (about 35 min on a 2-core PC, from section times)
    python -m benchmarks accuracy language    # some sections; the rest of today's file is kept
    python -m benchmarks --quick              # CI smoke run (< 3 min), written under the work folder
    python -m benchmarks --list               # the sections
    python -m benchmarks --report-only benchmarks/results/2026-11-25-host.json

Writes ``benchmarks/results/<date>-<host>.json`` and regenerates
``docs/benchmarks.md`` with its plots in ``docs/benchmarks/``. ``--quick``
writes to ``<work-dir>/quick/`` instead unless ``--results-dir`` / ``--docs``
say otherwise, so a smoke run never replaces the published figures.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .harness import run_sections
from .machine import machine_info
from .report import DOCS_FILE, write_report
from .resultfile import RESULTS_DIR, read_results, result_path, write_results
from .sections import RunContext, load_sections

log = logging.getLogger("benchmarks")

DEFAULT_WORK_DIR = Path(tempfile.gettempdir()) / "sttdesk-bench"


def _parser(section_names: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("sections", nargs="*", metavar="SECTION",
                        help=f"sections to run (default: the default set); of {', '.join(section_names)}")
    parser.add_argument("--quick", action="store_true", help="tiny inputs: checks the harness works (CI)")
    parser.add_argument("--list", action="store_true", help="list the sections and exit")
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR,
                        help="built inputs, joined models, run folders (a cache; default %(default)s)")
    parser.add_argument("--models-dir", type=Path, default=None, help="installed ggml models (default: the user's)")
    parser.add_argument("--results-dir", type=Path, default=None, help=f"where the JSON goes (default {RESULTS_DIR})")
    parser.add_argument("--docs", type=Path, default=None, help=f"the report to regenerate (default {DOCS_FILE})")
    parser.add_argument("--no-report", action="store_true", help="write the results file only")
    parser.add_argument("--report-only", type=Path, metavar="RESULTS_FILE",
                        help="regenerate the report from a results file without measuring")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def main(argv: list[str] | None = None) -> int:
    sections = load_sections()
    args = _parser(list(sections)).parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    if args.list:
        for name, section in sections.items():
            default = "default" if section.default else "on request"
            print(f"{name:16} {default:10} ~{section.estimate_s / 60:4.1f} min  {section.title}")
        return 0
    quick_dir = args.work_dir / "quick"
    results_dir = args.results_dir or (quick_dir if args.quick else RESULTS_DIR)
    docs_file = args.docs or (quick_dir / "docs" / "benchmarks.md" if args.quick else DOCS_FILE)

    if args.report_only:
        results = read_results(args.report_only)
        write_report(results, sections, results_file=args.report_only, docs_file=docs_file)
        print(f"Report: {docs_file}")
        return 0

    unknown = [name for name in args.sections if name not in sections]
    if unknown:
        print(f"unknown section(s): {', '.join(unknown)}; see --list", file=sys.stderr)
        return 2
    # Named sections run in the order given (the report keeps the registry's order).
    chosen = ([sections[name] for name in dict.fromkeys(args.sections)] if args.sections
              else [section for section in sections.values() if section.default])
    if args.models_dir is None:
        from sttdesk.paths import default_paths

        models_dir = default_paths().models_dir
    else:
        models_dir = args.models_dir
    args.work_dir.mkdir(parents=True, exist_ok=True)
    ctx = RunContext(quick=args.quick, work_dir=args.work_dir, models_dir=models_dir)
    command = "python -m benchmarks " + shlex.join(argv if argv is not None else sys.argv[1:])
    path = result_path(results_dir, datetime.now(UTC), machine_info()["host"])
    previous = None
    if path.is_file():
        try:
            previous = read_results(path)
        except ValueError as exc:
            log.warning("starting a new results file: %s", exc)

    def save(run: dict[str, Any]) -> dict[str, Any]:
        # Merged with what the file held before this run, rewritten after every section.
        results = write_results(path, run, previous=previous)
        if not args.no_report:
            write_report(results, sections, results_file=path, docs_file=docs_file)
        return results

    if previous and previous.get("quick") == args.quick:
        # Sections measured earlier today on this machine can be reused (scaling takes pipeline's 10 min).
        ctx.earlier.update({name: record for name, record in previous["sections"].items() if "error" not in record})
    run = run_sections(chosen, ctx, command=command.strip(), on_progress=save)
    save(run)
    print(f"Results: {path} ({run['wall_s'] / 60:.1f} min)")
    if not args.no_report:
        print(f"Report: {docs_file}")
    failed = [name for name, record in run["sections"].items() if "error" in record]
    if failed:
        print(f"Failed sections: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
