"""One producer for everything the boards read from a dataset.

The boards read stored results only: the Profillagen (``profillagen``), the
effects of the network measures (``effects``), the model projects'
difference-in-differences (``did``) and the additive aggregates
(``board_*``, :func:`casework.boards.build.build_board`). :func:`produce` computes
and stores all of them; ``casework pipeline`` calls it once per dataset.
The analysis notebooks call the same functions (:func:`effects_table`,
:func:`did_tables`, :func:`casework.profiling.profillagen`) to narrate them
and never store these results themselves, so running a notebook in JupyterLab
to explore (with other parameters, a jobcenter filter, another method) never
changes what a board shows.

Which results a dataset can give is decided from the data, never from its
name: no model project in ``projects`` → no ``did``; no ground truth → no
``truth`` columns and no scenario notes.
"""

from __future__ import annotations

import time

import pandas as pd

__all__ = ["BOARD_RESULTS", "ESTIMATES", "produce", "effects_table", "effects_tables", "board_outcomes",
           "effect_evalues", "effect_estimates", "stored_estimates", "did_tables", "evaluable_projects"]

#: the results the boards read besides the ``board_*`` aggregates, in the order they are produced
BOARD_RESULTS = ("profillagen", "effects", "did")
#: the estimates behind ``effects`` (:func:`casework.effects.measure_effects`; ``effect_estimates_<outcome>``),
#: stored with the dataset's state so that notebook 3.01, run by the pipeline, reads them instead of fitting
#: AIPW again
ESTIMATES = "effect_estimates"
_STATE = "data_state"


def effect_evalues(effects: pd.DataFrame) -> pd.DataFrame:
    """E-values (point and confidence limit) for every measure with an estimate: how strong an unmeasured
    confounder would have to be to explain the effect away."""
    from casework.effects.sensitivity import e_value_for

    rows = [{"measure": row.measure, "e_value": ev.point, "e_value_ci": ev.ci}
            for row in effects.dropna(subset=["estimate"]).itertuples()
            for ev in [e_value_for(row.estimate, row.ci_low, row.ci_high, row.outcome_mean_treated)]]
    return pd.DataFrame(rows, columns=["measure", "e_value", "e_value_ci"])


def effects_table(ds, *, method: str = "aipw", estimand: str = "att", effects: pd.DataFrame | None = None,
                  cohort: pd.DataFrame | None = None, outcome: str = "integration_12m") -> pd.DataFrame:
    """The board's effects table for one outcome: one row per measure kind with estimate, interval, German
    sentence, E-values, the outcome and its German label (``outcome_label``) and (synthetic data) the truth.
    ``effects`` (from :func:`casework.effects.measure_effects`) is computed when not given."""
    from casework.effects import measure_effects
    from casework.effects.report import board_effects
    from casework.panel import OUTCOMES

    if effects is None:
        effects = measure_effects(ds, method=method, estimand=estimand, outcome=outcome, cohort=cohort)
    board = board_effects(effects, ds.ground_truth)
    board = board.merge(effect_evalues(effects), on="measure", how="left")
    board["outcome_label"] = board["outcome"].map(OUTCOMES) if "outcome" in board else OUTCOMES[outcome]
    return board


def board_outcomes(ds) -> list[str]:
    """The effect outcomes a dataset can give (:data:`casework.panel.OUTCOMES` whose tables it has):
    exit from unemployment only with the optional table ``unemployment``."""
    from casework.panel import OUTCOME_TABLES, OUTCOMES

    return [o for o in OUTCOMES if OUTCOME_TABLES.get(o, "persons") in ds.tables]


def effect_estimates(ds, *, method: str = "aipw", estimand: str = "att", cohort: pd.DataFrame | None = None
                     ) -> dict[str, pd.DataFrame]:
    """:func:`casework.effects.measure_effects` for every outcome of :func:`board_outcomes` (outcome -> frame);
    the analysis cohort is built once."""
    from casework.effects import measure_effects
    from casework.panel import analysis_cohort

    cohort = analysis_cohort(ds) if cohort is None else cohort
    return {o: measure_effects(ds, method=method, estimand=estimand, outcome=o, cohort=cohort)
            for o in board_outcomes(ds)}


def effects_tables(ds, *, method: str = "aipw", estimand: str = "att", cohort: pd.DataFrame | None = None,
                   estimates: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """The stored ``effects``: :func:`effects_table` for every outcome of :func:`board_outcomes`, one after the
    other (columns as there; one row per outcome and measure). Each outcome is estimated once
    (:func:`effect_estimates`, unless given)."""
    if estimates is None:
        estimates = effect_estimates(ds, method=method, estimand=estimand, cohort=cohort)
    frames = [effects_table(ds, effects=e, outcome=o) for o, e in estimates.items()]
    return pd.concat(frames, ignore_index=True)


def data_state(ds) -> str:
    """A fingerprint of the dataset's files (the checksums in its manifest): results stored with it are known
    to come from exactly these data."""
    import hashlib
    import json

    files = ds.meta.get("files") or {}
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:16] if files else ""


def stored_estimates(ds, *, method: str = "aipw", estimand: str = "att", outcome: str = "integration_12m"
                     ) -> pd.DataFrame | None:
    """The producer's :func:`casework.effects.measure_effects` for ``outcome``, ``method`` and ``estimand``
    (default covariates, seed 0, the whole analysis cohort), when it was stored from the dataset as it is now;
    None otherwise (never stored, other parameters, other data, an in-memory dataset)."""
    state, name = data_state(ds), f"{ESTIMATES}_{outcome}"
    if not state or not ds.has_result(name):
        return None
    stored = ds.result(name)
    same = (stored[_STATE] == state) & (stored["method"] == method) & (stored["estimand"] == estimand)
    return stored.drop(columns=_STATE) if len(stored) and same.all() else None


def evaluable_projects(ds) -> pd.DataFrame:
    """The model projects :func:`casework.effects.did.project_did` can compare with jobcenters that run no
    project (key, jc_ids, start, ...); empty when the dataset has no project or no such jobcenter."""
    from casework.effects.did import project_groups

    if "projects" not in ds.tables or not ds.meta.get("tables", {}).get("projects", 1):
        return pd.DataFrame(columns=["key", "jc_ids", "start"])
    projects = ds.table("projects")
    if not set(ds.table("jobcenters")["jc_id"]) - set(projects["jc_id"]):
        return pd.DataFrame(columns=["key", "jc_ids", "start"])
    return project_groups(projects)


def did_tables(ds, *, n_boot: int = 999, seed: int = 0, panel: pd.DataFrame | None = None
               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Difference-in-differences of every evaluable model project against the dataset's other jobcenters
    (:func:`casework.effects.did.project_did`).

    Returns ``(did, event_study)``: one row per project (project, start, jobcenters, the columns of
    ``DidResult.to_frame`` and, on synthetic data, ``truth``) and the event-study estimates by project.
    Both are empty when the dataset has no model project with comparison jobcenters.
    """
    from casework.effects.did import project_did

    if evaluable_projects(ds).empty:
        return pd.DataFrame(), pd.DataFrame()
    table, events = project_did(ds, n_boot=n_boot, seed=seed, panel=panel, events=True)
    truth = {d["project"]: d["value"] for d in (ds.ground_truth or {}).get("did", [])}
    if truth and len(table):
        table["truth"] = table["project"].map(truth)
    return table, events


def _effects_and_estimates(ds, method: str) -> pd.DataFrame:
    """The board's effects; the estimates behind them stored beside (:data:`ESTIMATES`, with the data's state)."""
    estimates = effect_estimates(ds, method=method)
    if ds.path is not None:
        for stale in ds.results_dir.glob(f"{ESTIMATES}_*.parquet"):  # outcomes the data no longer give
            stale.unlink()
        for outcome, frame in estimates.items():  # one file each: a concat could change a column's dtype
            ds.save_result(f"{ESTIMATES}_{outcome}", frame.assign(**{_STATE: data_state(ds)}))
    return effects_tables(ds, estimates=estimates)


#: the parts of :func:`produce`, in the order of production; ``"effects"`` (AIPW for every outcome) needs nothing the
#: others make, so the pipeline runs it in a process of its own beside them
PARTS = ("profillagen", "effects", "did", "board aggregates")


def produce(ds, *, small: bool = False, method: str = "aipw", seed: int = 0, log=print,
            only=None) -> dict[str, str]:
    """Compute and store every result the boards read from ``ds``; returns result name -> what happened
    (``"stored"`` or why it was not produced), in the order of production. ``small``: fewer bootstrap
    replications (tests, quick looks). ``only``: some of :data:`PARTS` (default all); the parts need nothing of
    each other, so they may run in separate processes at the same time."""
    from casework.boards.build import build_board
    from casework.profiling import profillagen

    parts = PARTS if only is None else tuple(only)
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise ValueError(f"produce: unknown part(s) {sorted(unknown)}; the parts are {', '.join(PARTS)}")
    done: dict[str, str] = {}

    def step(name: str, make) -> None:
        t0 = time.perf_counter()
        value = make()
        if value is None or (isinstance(value, pd.DataFrame) and value.empty and name == "did"):
            done[name] = "skipped: the dataset has no model project with comparison jobcenters"
            for stale in ds.results_dir.glob(f"{name}.*"):  # from an earlier run on other data
                stale.unlink()
        else:
            ds.save_result(name, value)
            done[name] = "stored"
        ds.release()  # the next part reads its own tables (NRW at 1.1M: several GB each)
        log(f"  {name}: {done[name]} ({time.perf_counter() - t0:.0f} s)")

    prof = profillagen(ds) if {"profillagen", "board aggregates"} & set(parts) else None
    ds.release()
    if "profillagen" in parts:
        step("profillagen", lambda: prof)
    if "effects" in parts:
        step("effects", lambda: _effects_and_estimates(ds, method))
    if "did" in parts:
        step("did", lambda: did_tables(ds, n_boot=199 if small else 999, seed=seed)[0])
    if "board aggregates" in parts:
        segments = prof.sort_values(["person_id", "date"], kind="stable").drop_duplicates("person_id")
        t0 = time.perf_counter()
        build_board(ds, segments.set_index("person_id")["profillage"])
        ds.release()
        done["board aggregates"] = "stored"
        log(f"  board aggregates: stored ({time.perf_counter() - t0:.0f} s)")
    return done


#: the last line of ``python -m casework.produce``: what :func:`produce` returned, as JSON
DONE_MARK = "produced: "


def _main(argv=None) -> int:
    """``python -m casework.produce DATASET [--small] [--only PART ...]``: :func:`produce` in a process of its own
    (the pipeline runs its parts side by side); the last line is :data:`DONE_MARK` and its notes as JSON."""
    import argparse
    import json

    from casework.store import Dataset

    ap = argparse.ArgumentParser(prog="python -m casework.produce")
    ap.add_argument("dataset")
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--only", nargs="+", choices=PARTS, default=None)
    args = ap.parse_args(argv)
    done = produce(Dataset.open(args.dataset), small=args.small, only=args.only,
                   log=lambda line: print(line, flush=True))
    print(DONE_MARK + json.dumps(done, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":  # the pipeline's thread limits come with the environment (OMP_NUM_THREADS, ...)
    import sys

    sys.exit(_main())
