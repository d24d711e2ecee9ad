"""Run a study: every point of the grid on a local process pool or a Dask cluster, saved as
it finishes, resumed on a rerun.

The same point function (:func:`cellmodels.studies.kinds.run_point`) runs everywhere:
``concurrent.futures.ProcessPoolExecutor`` (spawned workers) by default, in this process
with ``workers = 0``, or on a ``dask.distributed`` cluster given its scheduler address
(``tcp://HOST:PORT``; the ECMs are scattered to the workers once). Points already in the
study file (or its unmerged parts) are not computed again; failed points are kept with
their error and only retried on request.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from . import store
from .config import StudyConfig, point_id
from .kinds import run_point

__all__ = ["StudySummary", "resolve_cells", "run_study"]

_PART_EVERY_S = 0.2  # points finishing faster than this share a part file


@dataclass
class StudySummary:
    """What a run did: the study file, and how many points it computed, skipped, failed."""

    path: Path
    kind: str
    total: int
    computed: int
    skipped: int
    failed: int
    failures: list = field(default_factory=list)  #: (cell, coords, error) of this run
    seconds: float = 0.0
    figures: list = field(default_factory=list)
    engine: str = ""

    def text(self) -> str:
        lines = [(f"{self.kind} study: {self.total} points; {self.computed} computed now "
                 f"({self.failed} failed), {self.skipped} already in {self.path}; "
                 f"{self.seconds:.1f} s on {self.engine}.")]
        for cell, coords, error in self.failures[:10]:
            lines.append(f"  failed: {cell} {json.dumps(coords)}: {error}")
        if len(self.failures) > 10:
            lines.append(f"  ... and {len(self.failures) - 10} more (see the file)")
        lines += [f"  figure: {p}" for p in self.figures]
        return "\n".join(lines)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def resolve_cells(config: StudyConfig, output: Path, *, progress: bool = True) -> dict:
    """The ECM of every cell: ``label -> (ECM, info)``.

    A label ending in ``.h5`` is an ECM file (relative to the config's folder). Any other
    is a parameter-set name, reduced once with the config's ``[reduce]`` settings and
    cached in ``<output>.cells/`` so a rerun does not reduce again.
    """
    from ..reduction import load_ecm, save_ecm

    cells = {}
    for label in config.cells:
        if label.endswith(".h5"):
            path = Path(label)
            path = path if path.is_absolute() else config.base_dir / path
            ecm = load_ecm(path)
            source = str(path)
        else:
            from ..physics.cells import available_cells, load_cell

            names = available_cells()
            if label not in names:
                from ..errors import suggest

                raise InputError(f"Unknown cell {label!r} in the study's 'cells': not an ECM "
                                 "file (.h5) nor a parameter set." + suggest(label, names))
            # the cache is keyed by the settings and by the parameter set's content: an
            # edited set is reduced again, not served from the old cell's ECM
            key = {"reduce": config.reduce, "cell_sha256": load_cell(label).sha256}
            tag = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:8]
            path = output.with_name(output.name + ".cells") / f"{label}-{tag}.ecm.h5"
            if path.exists():
                ecm = load_ecm(path)
            else:
                from ..reduction.identify import reduce_cell

                ecm = reduce_cell(label, progress=progress, **config.reduce)
                save_ecm(ecm, path)
            source = f"parameter set {label} reduced with {json.dumps(config.reduce)}; " \
                     f"ECM cached at {path}"
        cells[label] = (ecm, {"source": source, "sha256": _sha256(path),
                              "ecm_name": ecm.name})
    return cells


def input_files(params: dict, digests: dict | None = None) -> dict:
    """The input files a point's params name (a ``trace`` duty cycle's ``path``, a
    ``[life]`` model JSON), as ``field -> sha256`` of their content: part of the point's
    id, so an edited file is computed again, not served from the old results. ``digests``
    (path -> sha256) is kept across the points of one run: each file is read once."""
    digests = {} if digests is None else digests

    def digest(p: Path) -> str:
        if str(p) not in digests:
            digests[str(p)] = _sha256(p)
        return digests[str(p)]

    out = {}
    duty = params.get("dutycycle", {})
    if duty.get("generator") == "trace" and isinstance(duty.get("path"), str):
        p = Path(duty["path"])
        if p.is_file():
            out["dutycycle.path"] = digest(p)
    model = params.get("life", {}).get("model")
    if isinstance(model, str) and Path(model).suffix and Path(model).is_file():
        out["life.model"] = digest(Path(model))
    return out


def _check_distinct_cells(cells: dict) -> None:
    """Two labels of one ECM (the same file, or byte-identical copies) would share every
    point id: the second label's points would be dropped as duplicates."""
    seen: dict[str, str] = {}
    for label, (_, info) in cells.items():
        other = seen.setdefault(info["sha256"], label)
        if other != label:
            raise InputError(f"The study's 'cells' {other!r} and {label!r} are the same ECM "
                             f"(sha256 {info['sha256'][:12]}...); list it once.")


class _Local:
    """A process pool (or this process, for workers = 0).

    At most two points per worker are in flight, so when a point kills its worker process
    (a crash, the kernel's OOM killer) only the points in flight are suspects: the pool is
    started again and the suspects are run one at a time; the one that kills its worker
    again is recorded as failed, the others run on, and the sweep goes on.
    """

    def __init__(self, workers: int, point=run_point) -> None:
        self.workers = workers
        self.point = point
        self.pool = None
        if workers > 0:
            self._start()
        self.name = (f"a local pool of {workers} process{'es' if workers > 1 else ''}"
                     if workers else "this process")

    def _start(self) -> None:
        import multiprocessing

        # spawn: no forked copies of the parent's threads (tqdm, numba, h5py)
        self.pool = cf.ProcessPoolExecutor(max_workers=self.workers,
                                           mp_context=multiprocessing.get_context("spawn"))

    def run(self, tasks, ticks: bool = False):
        """Yield (pid, outcome or exception) as points finish; with ``ticks``, also
        ``(None, None)`` when nothing finished in the pool for 0.2 s, so the caller can save
        what finished before (a point finishing just after a part was written would
        otherwise wait for the next one to finish, hours later in a life study). Points run
        in this process need no tick: each result comes as its point ends, and a point
        that took 0.2 s or more is written then."""
        from collections import deque
        from concurrent.futures.process import BrokenProcessPool

        if self.pool is None:
            for pid, kind, ecm, params in tasks:
                yield pid, self.point(kind, ecm, params)
            return
        queue = deque(tasks)
        suspects: deque = deque()  # in flight when a worker died: run alone
        crashed: dict[str, int] = {}
        running: dict = {}
        while queue or suspects or running:
            alone = bool(suspects)
            limit = 1 if alone else 2 * self.workers  # one queued per worker: no idle gap
            while len(running) < limit and (suspects or (queue and not alone)):
                source = suspects if suspects else queue
                task = source.popleft()
                try:
                    running[self.pool.submit(self.point, *task[1:])] = task
                except BrokenProcessPool:
                    # a worker died after the last wait returned: this task never ran, so
                    # it goes back; the futures in flight fail with the pool (below)
                    source.appendleft(task)
                    if not running:  # nothing in flight to tell which point did it
                        self.pool.shutdown(wait=False, cancel_futures=True)
                        self._start()
                        continue
                    break
            done, _ = cf.wait(running, timeout=_PART_EVERY_S, return_when=cf.FIRST_COMPLETED)
            if not done:
                if ticks:
                    yield None, None  # a tick: the caller saves what finished before
                continue
            broken = []
            for fut in done:
                task = running.pop(fut)
                try:
                    yield task[0], fut.result()
                except BrokenProcessPool:
                    broken.append(task)
                except Exception as exc:  # noqa: BLE001 - recorded by the caller
                    yield task[0], exc
            if broken:
                # every future of a broken pool fails: all in flight are suspects
                broken += list(running.values())
                running.clear()
                self.pool.shutdown(wait=False, cancel_futures=True)
                self._start()
                for task in broken:
                    crashed[task[0]] = crashed.get(task[0], 0) + 1
                    if crashed[task[0]] >= 2 or (alone and len(broken) == 1):
                        yield task[0], RuntimeError(
                            "the worker process running this point died (a crash or out "
                            "of memory), also when the point ran alone")
                    else:
                        suspects.append(task)

    def close(self, cancel: bool = False) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=not cancel, cancel_futures=cancel)


class _Dask:
    """A dask.distributed cluster at ``address``."""

    def __init__(self, address: str) -> None:
        try:
            from distributed import Client
        except ImportError:  # pragma: no cover - a dependency
            raise InputError("--scheduler needs dask.distributed (pip install "
                             "'dask[distributed]').") from None
        if not isinstance(address, str) or "://" not in address:
            raise InputError(f"The 'scheduler' address must look like tcp://HOST:PORT. Got "
                             f"{address!r} instead.")
        try:
            self.client = Client(address, timeout="30s")
        except (OSError, TimeoutError) as exc:
            raise InputError(f"Cannot reach the Dask scheduler at {address}: {exc}") from None
        n = len(self.client.scheduler_info().get("workers", {}))
        self.name = f"the Dask cluster at {address} ({n} workers)"
        self.futures = []

    def run(self, tasks, ticks: bool = False):  # TODO: ticks (as _Local) not done for Dask
        import uuid

        from distributed import as_completed

        scattered = {}
        futures = {}
        run_tag = uuid.uuid4().hex[:8]
        for pid, kind, ecm, params in tasks:
            key = id(ecm)
            if key not in scattered:
                scattered[key] = self.client.scatter(ecm, broadcast=True, hash=False)
            fut = self.client.submit(run_point, kind, scattered[key], params,
                                     key=f"cellmodels-point-{pid}-{run_tag}", pure=False)
            futures[fut.key] = pid
            self.futures.append(fut)
        for fut in as_completed(self.futures):
            pid = futures[fut.key]
            try:
                yield pid, fut.result()
            except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker
                yield pid, exc
            fut.release()

    def close(self, cancel: bool = False) -> None:
        if cancel and self.futures:
            self.client.cancel(self.futures)
        self.client.close()


def run_study(
    config: StudyConfig,
    *,
    output: str | Path | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    retry_failed: bool = False,
    progress: bool = True,
    plot: bool = True,
    merge_every_s: float = 5.0,
    _point=run_point,
) -> StudySummary:
    """Run every point of ``config`` not yet in its study file.

    Parameters
    ----------
    config : StudyConfig
        From :func:`~cellmodels.studies.load_study_config`.
    output : path, optional
        The study file (HDF5); default ``config.output``.
    scheduler : str, optional
        A Dask scheduler address (``tcp://HOST:PORT``): run there instead of locally.
    workers : int, optional
        Local processes, in [0, 256]; 0 runs in this process; default the CPU count.
    retry_failed : bool
        Compute again the points recorded as failed.
    progress : bool
        A tqdm progress bar over the points.
    plot : bool
        Write the study's PNG figures beside the file at the end.
    merge_every_s : float
        How often finished points (each already saved in its own part file) are merged
        into the study file [s], in [0, inf).

    Returns
    -------
    StudySummary
    """
    from ..errors import check_range

    path = Path(output if output is not None else config.output or "study.h5")
    if workers is None:
        workers = os.cpu_count() or 1
    workers = int(check_range(workers, "workers", "argument of run_study", 0, 256))
    merge_every_s = check_range(merge_every_s, "merge_every_s", "argument of run_study", 0.0)
    t_start = time.perf_counter()
    with store.run_lock(path):
        if path.exists():
            store.merge_parts(path)  # a killed run's last points
        cells = resolve_cells(config, path, progress=progress)
        _check_distinct_cells(cells)
        store.create_or_check(path, config.kind, config.name, config.to_json(),
                              {label: info for label, (_, info) in cells.items()})
        done = store.load_study(path).points
        tasks, meta = [], {}
        skipped = 0
        digests: dict = {}  # input file -> sha256, read once per run
        for point in config.points():
            ecm, info = cells[point["cell"]]
            pid = point_id(config.kind, info["sha256"], point["params"],
                           input_files(point["params"], digests))
            if pid in meta:
                continue  # the same inputs twice in the grid
            meta[pid] = point
            prev = done.get(pid)
            if prev is not None and (prev.ok or not retry_failed):
                skipped += 1
                continue
            tasks.append((pid, config.kind, ecm, point["params"]))
        total = len(meta)
        engine = _Dask(scheduler) if scheduler else _Local(min(workers, len(tasks)), _point)
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=total, initial=skipped, desc=f"{config.kind} study", unit="pt")
        computed, failures = 0, []
        pending: dict = {}  # finished, not yet in a part file
        last_part = last_merge = time.monotonic()
        cancelled = True
        try:
            for pid, outcome in engine.run(tasks, ticks=True):
                if pid is None:  # a tick: nothing finished for 0.2 s; save what waits
                    if pending:
                        store.write_part(path, pending)
                        pending, last_part = {}, time.monotonic()
                    continue
                if isinstance(outcome, BaseException):
                    outcome = {"status": "error", "values": {}, "arrays": {}, "warnings": [],
                               "seconds": float("nan"),
                               "error": f"{type(outcome).__name__}: {outcome}"}
                point = meta[pid]
                pending[pid] = {**outcome, "cell": point["cell"], "coords": point["coords"],
                                "params": point["params"]}
                computed += 1
                if outcome["status"] != "ok":
                    failures.append((point["cell"], point["coords"], outcome["error"]))
                now = time.monotonic()
                if now - last_part >= _PART_EVERY_S:
                    store.write_part(path, pending)
                    pending, last_part = {}, now
                if bar is not None:
                    bar.update()
                    if failures:
                        bar.set_postfix(failed=len(failures))
                if now - last_merge >= merge_every_s:
                    store.merge_parts(path)
                    last_merge = time.monotonic()
            cancelled = False
        finally:
            if pending:
                store.write_part(path, pending)
            if bar is not None:
                bar.close()
            engine.close(cancel=cancelled)
            store.merge_parts(path)
    figures = []
    if plot:
        from .plots import plot_study

        # the figures are of this config's grid: the file may also hold points of an
        # earlier config (other fixed values) at the same coordinates
        results = store.load_study(path)
        results.points = {pid: p for pid, p in results.points.items() if pid in meta}
        figures = plot_study(results, path.with_suffix(""))
    return StudySummary(path=path, kind=config.kind, total=total, computed=computed,
                        skipped=skipped, failed=len(failures), failures=failures,
                        seconds=time.perf_counter() - t_start, figures=figures,
                        engine=engine.name)
