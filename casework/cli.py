"""The ``casework`` command line.

Commands::

    casework synth SCENARIO --seed N --out DIR [--persons N] [--confounding X]
    casework validate DIR
    casework import SOURCE --mapping FILE --out DIR [--replace]
    casework info DIR
    casework dictionary
    casework pipeline DIR [DIR ...]
    casework serve [--host H] [--port P] [--base-url U] [--token T] [--data DIR] [--dashboards DIR] ...
    casework board new NAME --dataset DIR [--project ID] [--title TEXT] [--subtitle TEXT] [--force]
    casework board check NOTEBOOK [NOTEBOOK ...]
    casework example-export OUT [--persons N] [--seed N]
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
    pl.add_argument("--jobs", type=int, default=None,
                    help="steps run at once (default $CASEWORK_JOBS or 2: the producer beside the notebooks)")
    b = sub.add_parser("board", help="boards for any dataset").add_subparsers(dest="board_command", required=True)
    bn = b.add_parser("new", help="write dashboards/NAME.ipynb: a board for a dataset",
                      description="Write the thin board notebook dashboards/NAME.ipynb (its parameters visible in "
                                  "its first cell); make serve then serves it and lists it on the landing page.")
    bn.add_argument("name", help="file name of the board (lower-case letters, digits, - and _)")
    bn.add_argument("--dataset", required=True, type=Path, help="the dataset folder (after casework pipeline)")
    bn.add_argument("--project", default=None, help="a project key of the dataset (projects.project_id up to '/')")
    bn.add_argument("--title", default=None, help="the board's title (default: Projektboard NAME)")
    bn.add_argument("--subtitle", default="", help="a line under the title")
    bn.add_argument("--dashboards", type=Path, default=None, metavar="DIR",
                    help="folder of the dashboards (default ./dashboards, created with the landing page)")
    bn.add_argument("--force", action="store_true", help="replace an existing board notebook")
    bc = b.add_parser("check", help="refuse a notebook whose stored outputs show person keys",
                      description="Read the stored outputs of notebooks meant to be served as boards; exit 1 and "
                                  "name the cell when any output shows a person key (pseudonym, person id, "
                                  "person key column). Nothing is executed.")
    bc.add_argument("notebooks", nargs="+", type=Path)
    ex = sub.add_parser("example-export", help="write a generated example export and its import mapping")
    ex.add_argument("out", type=Path)
    ex.add_argument("--persons", type=int, default=3000)
    ex.add_argument("--seed", type=int, default=7)
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

    return pipeline.run(args.paths, small=args.small, jobs=args.jobs)


def _board(args) -> int:
    if args.board_command == "check":
        return _board_check(args.notebooks)
    from casework.boards.new import new_board_for_dataset

    target = new_board_for_dataset(args.name, args.dataset, project=args.project, title=args.title,
                                   subtitle=args.subtitle, folder=args.dashboards, force=args.force)
    print(f"wrote {target}; serve it with: make serve (or casework serve --dashboards {target.parent})")
    return 0


def _board_check(notebooks) -> int:
    from casework.boards.catalog import person_key_findings

    refused = 0
    for nb in notebooks:
        findings = person_key_findings(nb)
        refused += bool(findings)
        print(f"{nb}: " + ("refused: " + "; ".join(findings) if findings else "no person keys in its outputs"))
    return 1 if refused else 0


def _example_export(args) -> int:
    from casework.example_export import write_example_export

    out = write_example_export(args.out, persons=args.persons, seed=args.seed)
    print(f"wrote the example export and its mapping to {out} (import: casework import {out} "
          f"--mapping {out / 'mapping.yaml'} --out DIR)")
    return 0


def _serve(args) -> int:
    from casework import serve

    return serve.serve(args)


_COMMANDS = {"synth": _synth, "validate": _validate, "import": _import, "info": _info,
             "dictionary": _dictionary, "pipeline": _pipeline, "serve": _serve, "board": _board,
             "example-export": _example_export}


def main(argv=None) -> int:
    """Entry point of the ``casework`` command (returns the exit code)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except (ValueError, FileNotFoundError, FileExistsError) as exc:
        print(f"casework {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
