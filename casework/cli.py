"""The ``casework`` command line.

Commands::

    casework synth SCENARIO --seed N --out DIR [--persons N] [--confounding X]
    casework validate DIR
    casework import SOURCE --mapping FILE --out DIR [--replace]
    casework info DIR
    casework dictionary
    casework pipeline DIR [DIR ...]
    casework serve [--host H] [--port P] [--base-url U] [--token T] [--data DIR] [--dashboards DIR] ...
    casework --version

``python -m casework`` is the same command.

Exit codes: 0 success, 1 invalid data (validate) or a failed step, 2 usage errors;
``casework import``: 0 every row accepted, 3 rows quarantined (the accepted rows are
written; the summary says how many and why), 1 nothing written (a column or table
failed as a whole, a wrong mapping, an --out it may not write to).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    from casework import __version__
    from casework.serve import add_arguments

    p = argparse.ArgumentParser(prog="casework", description="Research environment for jobcenter casework (SGB II).")
    p.add_argument("--version", action="version", version=f"casework {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("synth", help="generate a synthetic dataset with ground truth")
    s.add_argument("scenario", help="gelsenkirchen, pankow, nrw_teilhabe or scale")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", required=True, type=Path)
    s.add_argument("--persons", type=int, default=None)
    s.add_argument("--confounding", type=float, default=None, help="strength of the unobserved confounder")
    v = sub.add_parser("validate", help="validate a dataset folder (exit 0 when valid)")
    v.add_argument("path", type=Path)
    i = sub.add_parser("import", help="import a real export with a YAML mapping (pseudonymised)")
    i.add_argument("source", type=Path)
    i.add_argument("--mapping", required=True, type=Path)
    i.add_argument("--out", required=True, type=Path, help="a new or empty folder (or a dataset with --replace)")
    i.add_argument("--replace", action="store_true",
                   help="replace the casework dataset at --out (its stored results are removed)")
    n = sub.add_parser("info", help="describe a dataset folder")
    n.add_argument("path", type=Path)
    sub.add_parser("dictionary", help="print the data dictionary (Markdown)")
    pl = sub.add_parser("pipeline", help="run the analysis notebooks on datasets (results for dashboards)")
    pl.add_argument("paths", nargs="+", type=Path)
    pl.add_argument("--small", action="store_true", help="fast settings (for tests)")
    add_arguments(sub.add_parser("serve", help="serve the dashboards with Voila",
                                 description="Serve every dashboard in the dashboards folder with Voila."))
    return p


def _synth(args) -> int:
    from casework import synth

    saved = synth.generate(args.scenario, seed=args.seed, persons=args.persons, confounding=args.confounding,
                           out=args.out)  # streamed chunk by chunk: any size fits in memory
    rows = ", ".join(f"{t} {n:,}" for t, n in saved.meta["tables"].items())
    print(f"wrote {args.out} ({rows})")
    return 0


def _validate(args) -> int:
    from casework.schema import validate
    from casework.store import Dataset, DatasetError

    try:
        ds = Dataset.open(args.path)
    except DatasetError as exc:
        print(f"invalid dataset: {exc}", file=sys.stderr)
        return 1
    report = validate(ds)
    print(report.summary())
    return 0 if report.ok else 1


def _import(args) -> int:
    from casework import ingest

    report = ingest.import_source(args.source, args.mapping, args.out, replace=args.replace)
    print(report.summary())
    return report.exit_code


def _info(args) -> int:
    from casework.store import Dataset, DatasetError

    try:
        ds = Dataset.open(args.path, verify=False)
    except DatasetError as exc:
        print(f"invalid dataset: {exc}", file=sys.stderr)
        return 1
    meta = ds.meta
    print(f"dataset {ds.name} at {ds.path} (schema {meta.get('schema_version')}, created {meta.get('created')})")
    print(f"synthetic: {meta.get('synthetic')}; provenance: {json.dumps(meta.get('provenance', {}))}")
    for table, n in meta.get("tables", {}).items():
        print(f"  {table:<12} {n:>12,} rows")
    if ds.path and (ds.path / "results").is_dir():
        names = sorted(p.stem for p in (ds.path / "results").iterdir() if not p.name.startswith("."))
        print(f"results: {', '.join(names) or 'none'}")
    return 0


def _dictionary(args) -> int:
    from casework.schema import data_dictionary

    print(data_dictionary())
    return 0


def _pipeline(args) -> int:
    from casework import pipeline

    return pipeline.run(args.paths, small=args.small)


def _serve(args) -> int:
    from casework import serve

    return serve.serve(args)


_COMMANDS = {"synth": _synth, "validate": _validate, "import": _import, "info": _info,
             "dictionary": _dictionary, "pipeline": _pipeline, "serve": _serve}


def main(argv=None) -> int:
    """Entry point of the ``casework`` command (returns the exit code)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"casework {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
