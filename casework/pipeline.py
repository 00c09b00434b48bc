"""The analysis pipeline: store the boards' results, then run the parameterised notebooks with papermill.

For each dataset, :func:`casework.produce.produce` computes and stores every result the boards read
(Profillagen, effects, DiD, the ``board_*`` aggregates): one producer, so exploring a notebook in
JupyterLab never changes a board. Then every notebook declared in :data:`NOTEBOOKS` runs with
``store_results=True`` and stores its own further results (model metrics, fairness audit, ...) to
``<dataset>/results/``; the executed notebooks are kept under ``<dataset>/results/notebooks/``.

Any valid dataset runs, not only the demo scenarios: a notebook whose data the dataset lacks
(:data:`NOTEBOOKS` names what each needs) is skipped with a note, and comparisons with the synthetic
truth are left out when the dataset has no ground truth. When stderr is a terminal, a progress bar
per notebook counts its cells as they finish (``0.01-describe-population:  44%|███▉     | 7/16``);
otherwise (a log file, CI, a pipe) the output stays one line per step. A summary closes the run.

Two steps run at once by default (:func:`pipeline_jobs`, ``$CASEWORK_JOBS`` or ``--jobs``): the producer
beside the notebooks that do not read its results, so both cores work (docs/scale.md has the measured
wall and memory at the scale of a Land). Each running notebook has its own bar line.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from casework import paths

__all__ = ["run", "run_notebook", "model_threads", "pipeline_jobs", "AFTER_PRODUCER", "THREAD_VARIABLES", "NOTEBOOKS",
           "NOTEBOOK_DIR"]

#: the notebooks run by default (casework.paths: ./notebooks or the ones shipped in the package)
NOTEBOOK_DIR = paths.notebooks_dir()

#: notebook file -> what it needs of a dataset ("*": any valid dataset; "effects": at least one measure kind
#: with enough participants for an estimate; "projects": a model project with comparison jobcenters)
NOTEBOOKS = {
    "0.01-describe-population.ipynb": "*",
    "2.01-profiling-and-segmentation.ipynb": "*",
    "3.01-effects-of-network-measures.ipynb": "effects",
    "3.02-time-to-integration.ipynb": "*",
    "3.03-model-project-evaluation.ipynb": "projects",
    "4.01-capacity-planning.ipynb": "*",
}


def run_notebook(notebook: Path, dataset: Path, *, small: bool = False, out_dir: Path | None = None,
                 timeout: int = 1800, extra: dict | None = None, progress: bool = False, slot: int = 0) -> Path:
    """Execute one notebook on one dataset; returns the executed copy's path. ``slot``: the line of its
    progress bar when several notebooks run at once (0: the bottom line)."""
    import papermill as pm

    out_dir = out_dir or Path(dataset) / "results" / "notebooks"
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / Path(notebook).name
    params = {"dataset": str(Path(dataset).resolve()), "small": bool(small), **(extra or {})}
    pm.execute_notebook(str(notebook), str(target), parameters=params, kernel_name="python3",
                        cwd=str(Path(notebook).parent),
                        progress_bar=cell_progress(notebook, position=slot) if progress else False,
                        execution_timeout=timeout,
                        kernel_manager_class=_kernel_manager_class())
    return target


def cell_progress(notebook: Path, stream=None, position: int = 0) -> dict:
    """papermill's per-cell bar (tqdm, on stderr) named after the notebook.

    Its size is fixed from the terminal's: tqdm sizes a bar to what the terminal reports, and on a
    pseudo-terminal that reports 0 x 0 (``docker run -t``, ``script``, many CI runners) it took -1 rows and
    drew nothing at all, so a terminal saw no progress."""
    try:
        size = os.get_terminal_size((stream or sys.stderr).fileno())
        columns, lines = size.columns, size.lines
    except (OSError, ValueError, AttributeError):
        columns = lines = 0
    return {"desc": f"  {Path(notebook).stem[:40]}", "unit": "cell",
            "ncols": min(columns, 120) if columns > 0 else 100, "nrows": lines if lines > 0 else 24,
            **({"position": position} if position else {})}


def _kernel_manager_class():
    """Kernels with CurveZMQ-encrypted channels where pyzmq and the kernel support it (ipykernel 7 warns on
    every plain-TCP start, and the notebooks' outputs are case data); plain loopback TCP otherwise."""
    import zmq
    from jupyter_client.manager import AsyncKernelManager

    if not zmq.has("curve"):
        return AsyncKernelManager
    return type("EncryptedKernelManager", (AsyncKernelManager,), {"transport_encryption": "auto"})


def run(datasets, *, small: bool = False, notebooks: Path | None = None, progress: bool | None = None,
        jobs: int | None = None) -> int:
    """Produce the boards' results and run every declared notebook (from ``notebooks``, default
    :data:`NOTEBOOK_DIR`) on each dataset; prints a summary; returns 0 when nothing failed.

    ``jobs`` steps run at once (default :func:`pipeline_jobs`): the producer and the notebooks that do not
    read its results (:data:`AFTER_PRODUCER`) run side by side, each notebook in its own kernel. The numeric
    libraries' thread pools (OpenMP, BLAS) in the producer and the kernels get :func:`model_threads` threads."""
    from threadpoolctl import threadpool_limits

    progress = sys.stderr.isatty() if progress is None else progress
    jobs = pipeline_jobs() if jobs is None else jobs
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    threads = model_threads()
    unset = [v for v in THREAD_VARIABLES if v not in os.environ]  # a value the user set wins
    os.environ.update({v: str(threads) for v in unset})  # the kernels inherit them
    steps: list[tuple[str, str, str, float | None, str]] = []
    try:
        with threadpool_limits(threads):
            # absolute paths: papermill runs each notebook in its folder by changing the process's working
            # directory, which a step running beside it in another thread would otherwise resolve against
            folder = Path(notebooks or NOTEBOOK_DIR).resolve()
            for path in (Path(d).resolve() for d in datasets):
                steps += _run_dataset(path, small=small, folder=folder, progress=progress, jobs=jobs)
    finally:
        for v in unset:
            os.environ.pop(v, None)
    print(summary(steps))
    return 1 if any(s[2] == "FAILED" for s in steps) else 0


#: the environment variables that size the numeric libraries' thread pools in a kernel
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
#: the notebooks that read what the producer stored (they start only after it): 3.01 reads its AIPW estimates
AFTER_PRODUCER = frozenset({"3.01-effects-of-network-measures.ipynb"})
#: the steps that store the boards' results (casework.produce), each in a process of its own: the effects (AIPW
#: for every outcome, the longest part) and everything else beside them
EFFECTS_PRODUCER, PRODUCER = "board effects", "board results"
#: the steps with the largest memory (each 9-10 GB at 1,100,000 persons before docs/scale.md's changes): never two
#: of them at the same time, so that two steps side by side stay within the 12 GB of a Land-sized run
ONE_AT_A_TIME = frozenset({PRODUCER, "0.01-describe-population", "3.02-time-to-integration"})
#: the steps that run with nothing beside them: notebook 0.01's validation holds every table in memory at once
#: (8.1 GB at 1,100,000 persons), so any step beside it took a Land-sized run past 12 GB (12.8 GB, docs/scale.md);
#: alone it costs at most its own wall time (130 s there)
ALONE = frozenset({"0.01-describe-population"})


def pipeline_jobs() -> int:
    """Steps the pipeline runs at once: ``$CASEWORK_JOBS``, default 2 (this project's machines have two cores;
    each step is one process with :func:`model_threads` threads, so two steps use both)."""
    return _whole_number("CASEWORK_JOBS", "2")


def model_threads() -> int:
    """Threads for model fitting in the pipeline: ``$CASEWORK_THREADS``, default 1.

    On a shared machine, OpenMP and BLAS threads that wait for a busy core spin: fitting the profiling notebook's
    gradient boosting took 25 times the CPU with 2 threads as with 1 at a load of 17 on 2 cores (docs/scale.md).
    The fitted models are the same with any number of threads (tests/test_scale.py); raise it on a machine of
    one's own with idle cores."""
    return _whole_number("CASEWORK_THREADS", "1")


def _whole_number(variable: str, default: str) -> int:
    raw = os.environ.get(variable, default)
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{variable} must be a whole number of at least 1, got {raw!r}")
    return int(raw)


def _run_dataset(path: Path, *, small: bool, folder: Path, progress: bool, jobs: int = 1) -> list[tuple]:
    from casework.produce import PARTS
    from casework.store import Dataset, DatasetError

    name = path.name
    try:
        ds = Dataset.open(path)
    except (DatasetError, FileNotFoundError) as exc:
        print(f"FAILED {name}: {exc}", file=sys.stderr)
        return [(name, "open dataset", "FAILED", None, str(exc)[:200])]
    if not ds.ground_truth:
        print(f"{name}: no ground truth (not synthetic): comparisons with the truth are left out")
    out = _Output(progress)
    rest = tuple(p for p in PARTS if p != "effects")
    tasks = [_Task(step, lambda _, st=step, only=parts: _timed(name, st, lambda: _produce_note(
        _produce_in_process(path, small=small, only=only, say=out.say)), out.say), ())
        for step, parts in ((EFFECTS_PRODUCER, ("effects",)), (PRODUCER, rest))]
    for notebook, needs in NOTEBOOKS.items():
        after = (EFFECTS_PRODUCER,) if notebook in AFTER_PRODUCER else ()
        tasks.append(_Task(Path(notebook).stem, lambda slot, nb=notebook, nd=needs: _notebook_step(
            ds, path, folder / nb, nd, small=small, progress=progress, slot=slot, out=out), after))
    return _schedule(tasks, jobs, name)


class _Task:
    """One step of a dataset's pipeline: ``work(slot)`` returns its summary row; it starts when the steps named
    in ``after`` are done."""

    def __init__(self, name: str, work, after: tuple):
        self.name, self.work, self.after = name, work, after


def _schedule(tasks: list[_Task], jobs: int, dataset: str = "") -> list[tuple]:
    """Run ``tasks`` on ``jobs`` threads (each step's work is a process of its own: a kernel or the producer),
    the next ready task in declared order whenever a thread is free, never two of :data:`ONE_AT_A_TIME` at
    once and nothing beside a step of :data:`ALONE` (it starts when nothing runs); rows in declared order."""
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    rows: dict[str, tuple] = {}
    pending, running, free = list(tasks), {}, list(range(jobs))
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="pipeline") as pool:
        while pending or running:
            ready = _ready(pending, running, rows)
            while ready and free:
                task, slot = ready.pop(0), free.pop(0)
                pending.remove(task)
                running[pool.submit(task.work, slot)] = (task, slot)
                ready = _ready(pending, running, rows)
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                task, slot = running.pop(future)
                rows[task.name] = _row(task, future, dataset)
                free.append(slot)
                free.sort()
    return [rows[t.name] for t in tasks]


def _ready(pending: list[_Task], running: dict, rows: dict) -> list[_Task]:
    """The pending tasks that may start now, in declared order (see :func:`_schedule`)."""
    names = {t.name for t, _ in running.values()}
    if names & ALONE:
        return []
    heavy = bool(names & ONE_AT_A_TIME)
    return [t for t in pending if all(a in rows for a in t.after)
            and not (heavy and t.name in ONE_AT_A_TIME) and not (names and t.name in ALONE)]


def _row(task: _Task, future, dataset: str) -> tuple:
    """The task's summary row; an error outside its timed work (e.g. checking what it needs) fails that step only."""
    try:
        return future.result()
    except Exception as exc:  # the other steps and the summary go on
        print(f"FAILED {task.name} on {dataset}: {type(exc).__name__}: {str(exc)[:500]}", file=sys.stderr)
        return (dataset, task.name, "FAILED", None, f"{type(exc).__name__}: {str(exc)[:120]}")


class _Output:
    """Lines from steps running side by side: one at a time, and above the progress bars on a terminal."""

    def __init__(self, progress: bool):
        import threading

        self.progress, self.lock = progress, threading.Lock()

    def say(self, line: str, file=None) -> None:
        with self.lock:
            if self.progress:
                from tqdm import tqdm

                tqdm.write(line, file=file or sys.stdout)
                (file or sys.stdout).flush()
            else:
                print(line, file=file or sys.stdout, flush=True)


def _notebook_step(ds, path: Path, notebook: Path, needs: str, *, small: bool, progress: bool, slot: int,
                   out) -> tuple:
    name, step = path.name, notebook.stem
    missing = _missing(ds, needs)  # here, not before: 3.01's requirement is the producer's result
    if missing or not notebook.exists():
        note = missing or f"{notebook} not found"
        out.say(f"skip {notebook.name} on {name}: {note}")
        return (name, step, "skipped", None, note)
    out.say(f"run {notebook.name} on {name}")
    return _timed(name, step, lambda: run_notebook(notebook, path, small=small, extra={"store_results": True},
                                                   progress=progress, slot=slot) and "", out.say)


def _produce_in_process(path: Path, *, small: bool, only: tuple, say) -> dict:
    """:func:`casework.produce.produce` (``only`` its parts) in a child process, its lines passed on; returns
    what it returned. A process of its own: two parts use two cores (not one interpreter's lock), and its memory
    is given back when it ends, before the notebooks that follow."""
    import json
    import subprocess

    from casework.produce import DONE_MARK

    cmd = [sys.executable, "-m", "casework.produce", str(path), *(["--small"] if small else []), "--only", *only]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    done, tail = None, []
    for line in proc.stdout:
        line = line.rstrip("\n")
        if line.startswith(DONE_MARK):
            done = json.loads(line[len(DONE_MARK):])
        else:
            say(line)
            tail = (tail + [line])[-5:]
    if proc.wait() != 0 or done is None:
        raise RuntimeError(f"the producer ({', '.join(only)}) ended with exit code {proc.returncode}: "
                           + " / ".join(tail))
    return done


def _produce_note(done: dict) -> str:
    return "; ".join(f"{k} {v}" for k, v in done.items() if v != "stored")


def _timed(dataset: str, step: str, work, say=None) -> tuple:
    say = say or (lambda line, file=None: print(line, file=file, flush=True))
    t0 = time.perf_counter()
    try:
        note = work() or ""
    except Exception as exc:  # report every failing step, then fail the run
        say(f"FAILED {step} on {dataset}: {type(exc).__name__}: {str(exc)[:500]}", file=sys.stderr)
        return (dataset, step, "FAILED", time.perf_counter() - t0, f"{type(exc).__name__}: {str(exc)[:120]}")
    seconds = time.perf_counter() - t0
    say(f"{step} on {dataset}: ok in {seconds:.0f} s")
    return (dataset, step, "ok", seconds, note)


def _missing(ds, needs: str) -> str:
    """Why a dataset cannot feed a notebook ('' when it can)."""
    if needs == "*":
        return ""
    if needs == "effects":
        estimable = ds.has_result("effects") and ds.result("effects")["estimate"].notna().any()
        return "" if estimable else "no measure kind with enough participants for an effect estimate"
    if needs == "projects":
        from casework.produce import evaluable_projects

        return "" if len(evaluable_projects(ds)) else "no model project with comparison jobcenters"
    raise ValueError(f"unknown notebook requirement {needs!r}")


def summary(steps: list[tuple]) -> str:
    """The closing table: dataset, step, status, seconds, note; then the counts."""
    lines = ["", "Summary", f"{'dataset':<16} {'step':<40} {'status':<8} {'time':>7}  note"]
    for dataset, step, status, seconds, note in steps:
        took = f"{seconds:.0f} s" if seconds is not None else "-"
        lines.append(f"{dataset:<16} {step:<40} {status:<8} {took:>7}  {note}".rstrip())
    counts = {s: sum(1 for x in steps if x[2] == s) for s in ("ok", "skipped", "FAILED")}
    datasets = len({x[0] for x in steps})
    lines.append(f"{datasets} dataset(s): {counts['ok']} steps ok, {counts['skipped']} skipped, "
                 f"{counts['FAILED']} failed")
    return "\n".join(lines)
