"""``syrisign data build``: any source layout to a dataset directory, in parallel and resumable.

- Each finished sample is written atomically to ``poses/<id>.npz``; a rerun skips samples
  whose file is already there, so an interrupted build never does work twice.
- A sample that fails (corrupt video, no person found, unreadable file) is logged to
  ``errors.log`` and skipped; the batch goes on.
- MediaPipe runs in worker processes, each with its own Holistic graph: local processes, or Ray
  tasks on a cluster (``engine="ray"``). Workers return landmarks; the driver writes every file.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from syrisign.data.dataset import ERRORS, META, POSES, Dataset, Sample, write_json, write_manifest
from syrisign.data.sources import CONVERSIONS, Item, converted_by_another_version, list_items, resolve_input
from syrisign.errors import SyriSignError
from syrisign.pose import PoseSequence

ENGINES = ("local", "ray")
RAY_INSTALL = "pip install 'syrisign[cluster]'"
_WORKER = None


def _init_worker() -> None:
    global _WORKER
    import os
    # MediaPipe's C++ logging writes straight to fd 2 and would break the progress bar;
    # a worker reports its errors through return values instead.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    from syrisign.data.extract import HolisticExtractor
    _WORKER = HolisticExtractor()


def _extract_job(args: tuple[str, str]) -> tuple[str, PoseSequence | None, str | None, float]:
    """Worker (a pool process or a Ray task): extract one sample with this process's own Holistic.

    Returns ``(id, sequence or None, error or None, seconds)``; the driver writes the file, so an
    engine whose workers run on other machines needs no shared output folder.
    """
    if _WORKER is None:
        _init_worker()
    sid, src = args
    t0 = time.perf_counter()
    try:
        return sid, _WORKER.extract_path(src), None, time.perf_counter() - t0
    except Exception as e:  # one bad file never ends the batch
        return sid, None, f"{type(e).__name__}: {e}", time.perf_counter() - t0


def _extract_batch(jobs: list[tuple[str, str]]) -> list[tuple[str, PoseSequence | None, str | None, float]]:
    """A Ray task: several samples in one worker (amortizes task overhead on a big corpus)."""
    return [_extract_job(j) for j in jobs]


def _run_local(jobs: list[tuple[str, str]], workers: int) -> Iterator[tuple]:
    ctx = mp.get_context("spawn")  # MediaPipe graphs must not be forked from a parent that has one
    with ctx.Pool(min(workers, len(jobs)), initializer=_init_worker) as pool:
        yield from pool.imap_unordered(_extract_job, jobs)


def import_ray():
    """Ray, or a one-line error saying how to install it."""
    try:
        import ray
    except ImportError:
        raise SyriSignError(f"--engine ray needs Ray, which is not installed: {RAY_INSTALL}") from None
    return ray


def _run_ray(jobs: list[tuple[str, str]], workers: int, batch: int | None = None) -> Iterator[tuple]:
    """Ray tasks on the cluster named by ``RAY_ADDRESS`` (or one already connected), else on a local Ray
    started with ``workers`` CPUs. Input paths must be readable on every node (a shared filesystem);
    results come back to the driver, which writes them."""
    import os
    ray = import_ray()
    started = False
    if not ray.is_initialized():
        if os.environ.get("RAY_ADDRESS"):
            ray.init(address=os.environ["RAY_ADDRESS"], log_to_driver=False)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False,
                     runtime_env={"env_vars": {"GLOG_minloglevel": "2", "TF_CPP_MIN_LOG_LEVEL": "3"}})
        started = True
    try:
        cpus = max(1, int(ray.cluster_resources().get("CPU", workers)))
        # one video per task on a small job (balance), up to 16 per task on a corpus (overhead)
        batch = batch or max(1, min(16, len(jobs) // (cpus * 8)))
        task = ray.remote(num_cpus=1)(_extract_batch)
        chunks = [jobs[i:i + batch] for i in range(0, len(jobs), batch)]
        window = cpus * 4  # tasks in flight: keeps the driver's memory bounded on 75,000 videos
        pending: dict = {}
        it = iter(chunks)
        for chunk in it:
            pending[task.remote(chunk)] = chunk
            if len(pending) >= window:
                break
        while pending:
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            chunk = pending.pop(ref)
            try:
                results = ray.get(ref)
            except Exception as e:  # a worker that died: its samples are logged, the rest goes on
                msg = f"Ray task failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                results = [(sid, None, msg, 0.0) for sid, _ in chunk]
            nxt = next(it, None)
            if nxt is not None:
                pending[task.remote(nxt)] = nxt
            yield from results
    finally:
        if started:
            ray.shutdown()


@dataclass
class BuildReport:
    source: str
    output: Path
    total: int = 0
    done_before: int = 0
    built: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    frames_extracted: int = 0
    extract_seconds: float = 0.0
    wall_seconds: float = 0.0
    workers: int = 1
    engine: str = "local"

    @property
    def extraction_fps(self) -> float:
        return self.frames_extracted / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def summary(self) -> str:
        parts = [f"{self.total} samples from {self.source}", f"{self.built} built", f"{self.done_before} already done",
                 f"{len(self.failed)} failed"]
        if self.frames_extracted:
            parts.append(f"MediaPipe {self.frames_extracted} frames at {self.extraction_fps:.1f} frames/s "
                         f"with {self.workers} worker(s)" + (" on Ray" if self.engine == "ray" else ""))
        return ", ".join(parts)


def _describe(sample: Sample, seq: PoseSequence, file: str) -> Sample:
    sample.frames, sample.fps, sample.file, sample.skeleton = len(seq), seq.fps, file, seq.skeleton.name
    hp = seq.hand_presence()
    sample.missing_hand_rate = hp["both_missing"] if hp else -1.0
    return sample


def _log_error(output: Path, sid: str, src: Path, err: str) -> None:
    with open(output / ERRORS, "a", encoding="utf-8") as f:
        f.write(f"{datetime.now(timezone.utc).isoformat(timespec='seconds')}\t{sid}\t{src}\t{err}\n")


def build_dataset(input: str | Path, output: str | Path, source: str | None = None, workers: int | None = None,
                  limit: int | None = None, progress: bool = True, engine: str = "local",
                  ray_batch: int | None = None) -> BuildReport:
    """Build (or finish building) a dataset; returns what happened.

    ``engine="local"`` runs MediaPipe in ``workers`` processes of this machine; ``engine="ray"`` runs it as
    Ray tasks (see :func:`_run_ray`). Both give the same files, manifest, resume and ``errors.log``.
    """
    from tqdm import tqdm

    if engine not in ENGINES:
        raise SyriSignError(f"unknown engine {engine!r}: choose {' or '.join(ENGINES)}")
    if engine == "ray":
        import_ray()  # before any work: a missing Ray is a one-line error

    t_start = time.perf_counter()
    in_path, signed_language = resolve_input(str(input))
    source, items = list_items(in_path, source, signed_language)
    if limit:
        items = items[:limit]
    output = Path(output)
    (output / POSES).mkdir(parents=True, exist_ok=True)
    workers = max(1, workers or min(2, mp.cpu_count()))
    report = BuildReport(source, output, total=len(items), workers=workers, engine=engine)

    conversion = CONVERSIONS.get(source)
    try:
        old_meta = json.loads((output / META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        old_meta = {}
    # files converted by an older converter are made again (extracted landmarks stay: extraction has not changed)
    stale = bool(old_meta) and converted_by_another_version(old_meta, source)
    todo_extract: list[Item] = []
    todo_load: list[Item] = []
    for it in items:
        if stale and not it.needs_extraction:
            todo_load.append(it)
        elif (output / POSES / f"{it.sample.id}.npz").is_file():
            report.done_before += 1
        elif it.needs_extraction:
            todo_extract.append(it)
        else:
            todo_load.append(it)

    bar = tqdm(total=len(todo_extract) + len(todo_load), desc=f"build {output.name}", unit="sample",
               disable=not progress, dynamic_ncols=True)
    for it in todo_load:  # converters of landmark dumps: cheap, run here
        try:
            it.loader().save(output / POSES / f"{it.sample.id}.npz")
            report.built += 1
        except Exception as e:
            report.failed.append((it.sample.id, f"{type(e).__name__}: {e}"))
            _log_error(output, it.sample.id, it.path, f"{type(e).__name__}: {e}")
        bar.update()

    if todo_extract:
        by_id = {it.sample.id: it for it in todo_extract}
        jobs = [(it.sample.id, str(it.path)) for it in todo_extract]
        t0 = time.perf_counter()
        results = _run_ray(jobs, workers, ray_batch) if engine == "ray" else _run_local(jobs, workers)
        for sid, seq, err, secs in results:
            if err is None:
                try:  # written here, by the driver, atomically (temp file then rename)
                    seq.save(output / POSES / f"{sid}.npz")
                except Exception as e:
                    err = f"cannot write the result: {type(e).__name__}: {e}"
            if err:
                report.failed.append((sid, err))
                _log_error(output, sid, by_id[sid].path, err)
                bar.write(f"skipped {by_id[sid].path.name}: {err}")
            else:
                report.built += 1
                report.frames_extracted += len(seq)
                report.extract_seconds += secs
            bar.update()
        report.wall_seconds = time.perf_counter() - t0
    bar.close()

    # Manifest: every sample whose poses exist (built now or before), in source order.
    samples = []
    for it in items:
        f = output / POSES / f"{it.sample.id}.npz"
        if f.is_file():
            try:
                samples.append(_describe(it.sample, PoseSequence.load(f), f"{POSES}/{f.name}"))
            except Exception as e:  # a file damaged outside SyriSign: log, drop, rebuild next time
                _log_error(output, it.sample.id, f, f"unreadable output, removed: {e}")
                f.unlink(missing_ok=True)
    old = Dataset(output) if (output / "manifest.csv").is_file() else None
    if old is not None:  # keep splits assigned by `syrisign data split`
        old_split = {s.id: s.split for s in old.samples}
        for s in samples:
            s.split = old_split.get(s.id, s.split)
    write_manifest(output / "manifest.csv", samples)
    meta = {
        "source": source, "input": str(in_path), "built": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "samples": len(samples), "failed": len(report.failed),
        "skeletons": sorted({s.skeleton for s in samples}),
        "classes": len({s.class_key for s in samples}), "signers": len({s.signer for s in samples}),
    }
    if conversion:
        meta["conversion"] = conversion
    if old is not None and "split" in old.meta:
        meta["split"] = old.meta["split"]
    if report.frames_extracted:
        meta["extraction"] = {"frames": report.frames_extracted, "seconds": round(report.wall_seconds, 2),
                              "frames_per_second": round(report.extraction_fps, 2), "workers": workers,
                              "engine": engine}
    write_json(output / META, meta)
    report.wall_seconds = report.wall_seconds or (time.perf_counter() - t_start)
    return report

