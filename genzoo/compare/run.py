"""Running a compare: its jobs in this process or shared over torchrun's ranks, each trained
(or resumed) and scored, guided samplers included, an evaluator's failure costing only its rows."""

from __future__ import annotations

import dataclasses
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from genzoo import api
from genzoo.compare.results import JobResult, Scores, merge
from genzoo.compare.settings import (
    IMAGE_SEEDS,
    TOY_SEEDS,
    CompareSettings,
    Job,
    plan,
    record_settings,
    resolve_eval_options,
    seed_label,
    validate,
    wanted_metrics,
)
from genzoo.core import config as config_lib
from genzoo.core import sampling
from genzoo.core.errors import GenzooError, ReportedElsewhere
from genzoo.core.registry import Registry
from genzoo.data.base import Dataset
from genzoo.reports import images as report_images
from genzoo.reports import toy as report_toy
from genzoo.reports.results import CompareResults
from genzoo.training import distributed
from genzoo.training.locks import DirLock
from genzoo.training.runs import Run
from genzoo.training.shards import ranks
from genzoo.training.trainer import TrainingInterrupted, TrainSettings, resolve_device

Progress = Callable[[str], None]


def run_compare(registry: Registry, settings: CompareSettings, out: Path, *,
                progress: bool = False, say: Progress | None = None, resume: bool = False
                ) -> tuple[CompareResults, dict[str, Any]] | None:
    """Train, evaluate and report. Returns the results and the figure data
    (``reports.toy.FigureData`` per model on toy data, ``reports.images.ImageFigureData``
    on images).

    Started by torchrun, the ranks share the jobs of ``plan`` (see
    ``genzoo.training.shards``): rank 0 gathers what they measured and returns the whole;
    the other ranks return None once they have handed their part over.
    """
    say = say or (lambda _msg: None)
    dataset = registry.dataset(settings.dataset, **settings.data_options)  # unknown names fail
    is_image = dataset.spec.kind == "image"
    if settings.seeds is None:
        settings = dataclasses.replace(settings, seeds=IMAGE_SEEDS if is_image else TOY_SEEDS)
    # once, for every job and for results.json: FID-1k on a CPU unless fid_samples is given
    settings = dataclasses.replace(
        settings, eval_options=resolve_eval_options(registry, settings, is_image))
    if distributed.env_world_size() > 1:
        return _run_sharded(registry, settings, out, dataset, progress, say, resume)
    validate(registry, settings, out, dataset, resume)
    lock = DirLock(out, "a compare").acquire()  # one compare per --out
    try:
        record_settings(settings, out)
        jobs = plan(settings.models, settings.seeds, out)
        begun = time.perf_counter()
        done = [_run_job(registry, settings, job, dataset, progress, say, resume)
                for job in jobs]
        return merge(registry, settings, dataset, done, time.perf_counter() - begun, world=1)
    finally:
        lock.release()


def _run_sharded(registry: Registry, settings: CompareSettings, out: Path, dataset: Dataset,
                 progress: bool, say: Progress, resume: bool = False
                 ) -> tuple[CompareResults, dict[str, Any]] | None:
    """Rank r's share of the compare; rank 0 also gathers and returns the whole. A rank's own
    failure is one line naming it; torchrun then stops the others, which exit quietly
    (``genzoo.training.shards``)."""
    with ranks() as group:
        rank, world = group.rank, group.world_size
        out = Path(group.broadcast(str(out)))  # rank 0's: a default --out is a time
        try:
            validate(registry, settings, out, dataset, resume)
            refused = None
        except GenzooError as exc:
            refused = exc
        group.all_refuse(refused)  # said once; nobody writes before every rank has checked
        lock = None
        try:
            if group.is_main:
                lock = DirLock(out, "a compare").acquire()
                record_settings(settings, out)
            jobs = plan(settings.models, settings.seeds, out, world)
            mine = [job for job in jobs if job.rank == rank]
            say(f"rank {rank} of {world}: " + (", ".join(
                f"{j.model} {seed_label(j.seeds)}" for j in mine) or "no jobs"))
            device = distributed.local_device(resolve_device(settings.device))
            settings = dataclasses.replace(settings, device=str(device))  # cuda:LOCAL_RANK
            begun = time.perf_counter()
            with distributed.solo():  # a job trains in this process alone, not data-parallel
                done = [_run_job(registry, settings, job, dataset, progress and group.is_main,
                                 lambda msg: say(f"rank {rank}: {msg}"), resume)
                        for job in mine]
            parts = group.gather(done)
            if parts is None:
                return None
            gathered = [d for part in parts for d in part]
            order = {(j.model, j.seeds[0]): i for i, j in enumerate(jobs)}
            gathered.sort(key=lambda d: order[(d.model, d.seeds[0])])
            return merge(registry, settings, dataset, gathered, time.perf_counter() - begun,
                          world)
        except ReportedElsewhere:
            raise
        except BaseException as exc:
            # torchrun stopping this rank: another one failed and said so
            if isinstance(exc, TrainingInterrupted) and exc.signum == signal.SIGTERM:
                raise ReportedElsewhere("stopped by torchrun") from exc
            if isinstance(exc, KeyboardInterrupt) and not group.is_main:
                raise ReportedElsewhere("interrupted") from exc  # Ctrl-C: rank 0 says it
            if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit)):
                raise
            raise group.fail(exc) from exc
        finally:
            if lock is not None:
                lock.release()


def _resumed(registry: Registry, settings: CompareSettings, job: Job, progress: bool,
             say: Progress) -> api.Session | None:
    """``job``'s run as an interrupted compare left it: finished (scored again), stopped at a
    checkpoint (continued from it), or None when it never reached one (trained afresh; a run
    folder without a checkpoint holds nothing to keep, and is cleared)."""
    if not job.run_dir.exists():
        return None
    if not (job.run_dir / "checkpoints").is_dir() or not Run(job.run_dir).checkpoint_steps():
        shutil.rmtree(job.run_dir)
        return None
    session = api.open_run(registry, job.run_dir, device=settings.device, progress=progress)
    step, total = session.trainer.step, session.trainer.settings.steps
    say(f"{job.model}: {'trained already' if step >= total else f'resuming at step {step}'} "
        f"({job.run_dir})")
    return session


def _run_job(registry: Registry, settings: CompareSettings, job: Job, dataset: Dataset,
             progress: bool, say: Progress, resume: bool = False) -> JobResult:
    """Train ``job.model`` for ``job.seeds`` into ``job.run_dir`` and score every seed, with
    the figure's data for the block holding seed 0."""
    name = job.model
    is_image = dataset.spec.kind == "image"
    wanted = wanted_metrics(registry, settings, is_image)
    cls = registry.model(name)
    overrides = settings.overrides.get(name, {})
    cfg = cls.make_config(dataset.spec, settings.preset, overrides)
    train = TrainSettings(
        steps=settings.steps or getattr(cfg, "steps", TrainSettings.steps),
        batch_size=settings.batch_size or getattr(cfg, "batch_size", TrainSettings.batch_size),
        # the final checkpoint, one on Ctrl-C, and one every 5 minutes of a long job: what
        # `compare --resume` continues from
        checkpoint_every=0, checkpoint_minutes=5.0)
    seeds = (f"{len(job.seeds)} seed(s)" if len(job.seeds) == settings.seeds
             else seed_label(job.seeds))
    session = _resumed(registry, settings, job, progress, say) if resume else None
    if session is None:
        say(f"{name}: training {seeds} for {train.steps} steps")
        session = api.start(registry, name, settings.dataset, out=job.run_dir,
                            preset=settings.preset, overrides=overrides, seeds=job.seeds,
                            settings=train, device=settings.device, progress=progress,
                            data_options=settings.data_options, dataset=dataset)
    before = session.trainer.seconds
    started = time.perf_counter()
    if session.trainer.step < session.trainer.settings.steps:  # else finished before a stop
        session.trainer.fit()
    seconds = before + time.perf_counter() - started
    done = JobResult(name, job.seeds, job.rank, str(job.run_dir), seconds, train.steps,
                     train.batch_size, bool(cls.vectorized),
                     config_lib.to_dict(session.model.config),
                     _evaluate(registry, session, settings.eval_options, say, wanted))
    extra = ""
    if settings.sampler != "raw":
        done.guided = _evaluate_guided(registry, session, settings, say, wanted)
        if done.guided is not None:
            extra = f" (+{done.guided.eval_seconds:.1f}s on {settings.sampler} samples)"
    if job.seeds[0] == 0:  # the figure shows the first seed
        done.figure = (report_images.image_figure_data(session.model, dataset) if is_image
                       else report_toy.figure_data(session.model, dataset))
    say(f"{name}: trained in {seconds:.1f}s, evaluated in {done.scores.eval_seconds:.1f}s"
        f"{extra}")
    return done


def _evaluate_guided(registry: Registry, session: api.Session, settings: CompareSettings,
                     say: Progress, wanted: list[str] | None) -> Scores | None:
    """The evaluators that sample, on ``settings.sampler``'s samples (None and a note on
    screen when the model has no discriminator to guide them)."""
    why = sampling.refusal(session.model, settings.sampler)
    if why:
        say(f"{session.model.name}: scored raw only ({why})")
        return None
    names = [e.name for e in registry.evaluators
             if (wanted is None or e.name in wanted) and "sample" in e.obj.requires]
    say(f"{session.model.name}: scoring {settings.sampler} samples")
    return _evaluate(registry, session, settings.eval_options, say, names, settings.sampler)


def _evaluate(registry: Registry, session: api.Session, options: dict[str, Any],
              say: Progress, wanted: list[str] | None = None, sampler: str = "raw") -> Scores:
    """Per-seed metric values from the ``wanted`` evaluators (None: every registered one)
    that apply, and what was skipped (with the reason) or failed."""
    started = time.perf_counter()
    names, skipped = [], {}
    entries = (list(registry.evaluators) if wanted is None
               else [registry.evaluators.get(n) for n in wanted])
    for entry in entries:
        reason = entry.obj(**options).missing(session.model, session.dataset)
        if reason is None:
            names.append(entry.name)
        else:
            skipped[entry.name] = reason
    metrics: dict[str, list[float]] = {}
    errors: dict[str, str] = {}
    evaluated: list[str] = []
    for name in names:
        # one evaluator at a time, so a broken third-party evaluator costs only its own column
        try:
            res = api.evaluate(registry, session, [name], options=options,
                               sampler=sampler, check_keys=False)[name]
        except GenzooError as exc:  # a known, one-line reason (no FID weights, say)
            errors[name] = str(exc)
            say(f"{session.model.name}: evaluator {name} could not run ({errors[name]})")
            continue
        except Exception as exc:  # noqa: BLE001 - reported in results.json and on screen
            errors[name] = f"{type(exc).__name__}: {exc}"
            say(f"{session.model.name}: evaluator {name} failed ({errors[name]})")
            continue
        metrics.update(res.metrics)
        evaluated.append(name)
    return Scores(metrics, time.perf_counter() - started, skipped, errors, evaluated)
