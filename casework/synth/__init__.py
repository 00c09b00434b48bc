"""Synthetic populations with ground truth (``casework.synth``).

``generate(scenario, seed=0, persons=None)`` builds a complete dataset of the
case data model for one of the scenarios ``gelsenkirchen``, ``pankow``,
``nrw_teilhabe`` and ``scale``, deterministically for a seed, and records
every effect it builds in as ``ground_truth`` (see docs/estimands.md and
docs/synthetic.md for the data-generating process and the estimands).

Examples
--------
>>> from casework import synth
>>> ds = synth.generate("gelsenkirchen", seed=1, persons=1500)
>>> {"effects", "did", "hazard_ratios", "estimands"} <= set(ds.ground_truth)
True
>>> ds.truth[["person_id", "latent_class"]].shape[0] == len(ds.table("persons"))
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from casework import engine
from casework import schema as S
from casework.store import Dataset, StreamingWriter
from casework.synth.heap import retained_heap
from casework.synth.households import form_households
from casework.synth.population import CLASS_LABELS, CLASSES, draw_persons
from casework.synth.scenarios import SCENARIOS, Scenario, get_scenario
from casework.synth.simulate import OTHER_EXIT_HAZARD, linear_predictor, project_window, simulate_chunk
from casework.synth.tables import ids, network_tables, person_tables, project_key
from casework.synth.truth import ground_truth, index_profillage, truth_extract, truth_table

__all__ = ["generate", "SCENARIOS", "get_scenario", "Scenario"]

CHUNK = 100_000


def generate(scenario: str | Scenario, seed: int = 0, persons: int | None = None, *, confounding: float | None = None,
             progress: bool | None = None, out=None) -> Dataset:
    """Generate a synthetic dataset with ground truth.

    Parameters
    ----------
    scenario : str or Scenario
        ``"gelsenkirchen"``, ``"pankow"``, ``"nrw_teilhabe"`` or ``"scale"``.
    seed : int
        Seed of the random generator; the same seed gives the same dataset.
    persons : int, optional
        Number of persons (default: the scenario's size). Project places
        (e.g. 1,500 ABCaktiv customers, 6,400 Teilhabe places) scale with it.
    confounding : float, optional
        Strength of the unobserved confounder (0 = none, the default of every
        scenario); it raises both the chance of a measure and of integration.
    progress : bool, optional
        Show a progress bar (default: only for populations above 200,000).
    out : path, optional
        Stream the dataset chunk by chunk into this folder instead of keeping
        it in memory (for millions of persons); the folder is written
        atomically and returned opened. The data are identical either way.

    Returns
    -------
    Dataset
        ``.ground_truth`` holds the true effects, ``.truth`` the person-level
        truth table. In memory unless ``out`` is given.
    """
    scn = get_scenario(scenario) if isinstance(scenario, str) else scenario
    if confounding is not None:
        scn = scn.with_options(confounding=float(confounding))
    n = int(persons or scn.default_persons)
    if n < 100:
        raise ValueError(f"persons must be at least 100 (got {n})")
    with retained_heap():
        return _generate(scn, n, seed, progress, out)


def _generate(scn: Scenario, n: int, seed: int, progress: bool | None, out) -> Dataset:
    scale = n / scn.default_persons
    network = network_tables(scn, n)
    sink = _StreamSink(out, network) if out is not None else _MemorySink(network)
    did, extracts, segments, classes, parts = {}, [], [], [], []
    bar = tqdm(total=n, desc=f"synth {scn.name}", unit="persons",
               disable=(n <= 200_000) if progress is None else not progress)
    starts = list(range(0, n, CHUNK))
    # one independent seed per chunk, so chunks can be made anywhere (casework.engine) with the same result
    seeds = np.random.SeedSequence(seed).spawn(len(starts))
    tasks = [_ChunkTask(scn, n, scale, network, i, lo, min(CHUNK, n - lo), seeds[i]) for i, lo in enumerate(starts)]
    try:
        for part in engine.iter_results(_make_chunk, tasks):
            segments.append(part["segments"])
            extracts.append(part["extract"])
            classes.append(part["classes"])
            parts.append(part["parts"])
            sink.add(part["tables"], part["truth"])
            _accumulate(did, part["did"])
            bar.update(part["size"])
        bar.close()
        seg_all = None if any(s is None for s in segments) else pd.concat(segments)
        gt = ground_truth(scn, pd.concat(extracts, ignore_index=True), seg_all, did, seed=seed, persons=n,
                          class_counts=pd.concat(classes).groupby(level=0).sum(),
                          part_counts=pd.concat(parts).groupby(level=0).sum())
        meta = {"name": scn.name, "provenance": {"generator": "casework.synth", "scenario": scn.name, "seed": seed,
                                                 "persons": n, "confounding": scn.confounding}}
        return sink.finish(gt, meta, scn.name)
    except BaseException:
        sink.abort()
        raise


@dataclass(frozen=True)
class _ChunkTask:
    scn: Scenario
    n: int
    scale: float
    network: dict
    chunk: int
    offset: int
    size: int
    seed: np.random.SeedSequence


def _make_chunk(t: _ChunkTask) -> dict:
    """Everything one chunk of persons contributes: its tables, truth rows and ground-truth pieces."""
    rng = np.random.default_rng(t.seed)
    p = _draw_chunk(t.scn, t.size, t.offset, rng)
    res = simulate_chunk(t.scn, p, rng, scale=t.scale, share=t.size / t.n)
    pf = _with_labels(t.scn, pd.concat([p.reset_index(drop=True), res.frame], axis=1))
    tables = person_tables(t.scn, pf, rng, t.network, chunk=t.chunk, quota_scale=t.scale * t.size / t.n)
    pf = pd.concat([pf, tables.pop("_truth")], axis=1)
    return {"tables": tables, "truth": truth_table(t.scn, pf), "did": res.did, "size": t.size,
            "segments": index_profillage(pf, tables["assessments"], t.scn), "extract": truth_extract(pf),
            "classes": pf["latent_class_key"].value_counts(),
            "parts": pf.loc[pf["enrolled_part"] != "", "enrolled_part"].value_counts()}


class _MemorySink:
    """Collects the chunks in memory."""

    def __init__(self, network):
        self.parts = {name: [df] for name, df in network.items()}
        self.truth = []

    def add(self, tables, truth):
        for name, df in tables.items():
            self.parts.setdefault(name, []).append(df)
        self.truth.append(truth)

    def finish(self, gt, meta, name):
        tables = {t: _concat(self.parts[t]) for t in S.TABLE_ORDER if t in self.parts}
        return Dataset.from_tables(tables, ground_truth=gt, truth=pd.concat(self.truth, ignore_index=True),
                                   meta=meta, name=name)

    def abort(self):
        self.parts.clear()


def _concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The chunks of one table as one frame.

    A column that is empty in every chunk (``assessments.profillage``, filled at import) is added after the
    concat: pandas checks all-missing object columns value by value when it joins them (5 s at a million
    persons).
    """
    empty = [c for c in parts[0].columns
             if all(c in p and p[c].dtype == object and not p[c].notna().any() for p in parts)]
    out = pd.concat([p.drop(columns=empty) for p in parts], ignore_index=True)
    for c in empty:
        out.insert(list(parts[0].columns).index(c), c, pd.Series([None] * len(out), dtype=object))
    return out


class _StreamSink:
    """Appends each chunk to Parquet files in a temporary folder; the manifest is written last."""

    def __init__(self, out, network):
        self.writer = StreamingWriter(out)
        for name, df in network.items():
            self.writer.append(name, df)

    def add(self, tables, truth):
        for name, df in tables.items():
            self.writer.append(name, df)
        self.writer.append_truth(truth)

    def finish(self, gt, meta, name):
        return self.writer.finish(ground_truth=gt, meta=meta)

    def abort(self):
        self.writer.abort()


def _draw_chunk(scn: Scenario, size: int, offset: int, rng) -> pd.DataFrame:
    """Persons of one chunk: a stock already in receipt at the data start plus an inflow.

    The stock is drawn length-biased (a person's chance to be in the stock is
    proportional to the expected length of their spell), so that it has the
    steady-state composition of a real caseload: more barriers, long receipt.
    """
    start_year = pd.Timestamp(scn.data_start).year
    n_stock = int(rng.binomial(size, scn.stock_share))
    inflow_m = rng.integers(0, len(scn.months), size - n_stock)
    inflow = _draw_candidates(scn, size - n_stock, rng, scn.months.year.to_numpy()[inflow_m], inflow=True)
    inflow["entry_m"] = inflow_m  # age and citizenship are those of the year of entry
    cand = _draw_candidates(scn, 3 * n_stock, rng, start_year)
    exit_rate = 1 / (1 + np.exp(-linear_predictor(scn, cand))) * 0.7 + OTHER_EXIT_HAZARD
    pick = rng.choice(len(cand), size=n_stock, replace=False, p=(1 / exit_rate) / (1 / exit_rate).sum())
    stock = cand.iloc[np.sort(pick)].reset_index(drop=True)
    age_at_start = start_year - stock["birth_year"].to_numpy()
    max_dur = np.maximum((age_at_start - 15) * 12, 0)  # eLb are 15 or older (§ 7 Abs. 1 SGB II)
    dur = np.minimum(np.ceil(rng.exponential(1 / exit_rate[pick][np.argsort(np.argsort(pick))])), 180)
    stock["entry_m"] = -np.minimum(dur, max_dur).astype(int)
    p = pd.concat([stock, inflow], ignore_index=True)
    p = p.iloc[rng.permutation(len(p))].reset_index(drop=True)
    p = form_households(p, rng, first_key=offset + 1)
    p["person_id"] = ids("P", size, start=offset + 1, width=7)
    p["start_m"] = np.maximum(p["entry_m"], 0)
    # receipt before the current spell: the stock often has earlier spells; most inflows are new to SGB II
    # (an inflow that had received benefits shortly before would still be in its old spell)
    prior = rng.random(size) < np.where(p["entry_m"].to_numpy() < 0, 0.3, 0.12)
    p["benefit_months"] = np.where(prior, np.where(p["entry_m"].to_numpy() < 0, rng.integers(6, 61, size),
                                                   rng.integers(1, 13, size)), 0)
    return p


def _draw_candidates(scn: Scenario, n: int, rng, start_year, inflow: bool = False) -> pd.DataFrame:
    p = draw_persons(n, rng, start_year=start_year, inflow=inflow)
    weights = scn.jobcenters["weight"].to_numpy()
    p["jc_idx"] = rng.choice(len(weights), size=n, p=weights / weights.sum())
    return p


def _accumulate(total: dict, part: dict) -> None:
    for world, arrays in part.items():
        if world not in total:
            total[world] = {k: v.copy() for k, v in arrays.items()}
        else:
            for k, v in arrays.items():
                total[world][k] += v


def _with_labels(scn: Scenario, pf: pd.DataFrame) -> pd.DataFrame:
    jc_ids = scn.jobcenters["jc_id"].to_numpy()
    jc = jc_ids[pf["jc_idx"].to_numpy()]
    proj_by_id = {q.project_id: q for q in scn.projects}
    enrolled = pf["enrolled"].to_numpy().copy()
    for q in scn.projects:  # taking part in an open project's offer counts as being reached by the project
        if q.enrol_only or q.modifies:
            continue
        lo, hi = project_window(scn, q)
        rows = ((enrolled == "") & np.isin(jc, q.jc_ids) & pf["measure"].isin([m.kind for m in q.measures]).to_numpy()
                & (pf["index_m"].to_numpy() >= lo) & (pf["index_m"].to_numpy() <= hi))
        enrolled[rows] = q.project_id
    pf = pf.assign(enrolled=enrolled)
    keys = np.array([project_key(proj_by_id[e], j) if e else "" for e, j in zip(enrolled, jc)], dtype=object)
    # a person's chance of integrating within 12 months from the baseline hazard (for the caseworker's horizon)
    p12 = 1 - (1 - 1 / (1 + np.exp(-linear_predictor(scn, pf)))) ** 12
    return pf.assign(jc_id=jc, enrolled_project=pf["enrolled"], enrolled_project_key=keys,
                     latent_class_key=np.asarray(CLASSES, dtype=object)[pf["latent_class"].to_numpy()],
                     latent_class_label=pd.Series(np.asarray(CLASSES)[pf["latent_class"].to_numpy()]).map(
                         CLASS_LABELS).to_numpy(), p12=p12)
