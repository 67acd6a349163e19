"""`genzoo compare`: train several models for N seeds each, score them all, write a report.

For every named model: one replicated model holds all N seeds (a vectorized model trains them
as one computation, any other model is stacked), the one Trainer trains it into
``OUT/runs/NAME`` (so ``genzoo evaluate OUT/runs/NAME`` works later; each block of a model
split over torchrun's ranks is ``OUT/runs/NAME/seeds-A-B``), and the evaluators score every
seed. Then ``OUT`` gets ``results.json``, ``figure.png`` and ``report.html``.

On a toy mixture: 10 seeds by default, every registered evaluator that applies, and the
figure in the layout of the paper's Figure 8. On an image dataset: 1 seed by default (an
image model trains for minutes to hours, not seconds), the evaluators of ``IMAGE_METRICS``
that are registered (``--metric`` chooses others), and a figure of samples and
reconstructions (``genzoo.reports.images``). Either way ``--metric`` restricts the evaluators.
An evaluator that fails (FID without Inception weights, say) costs only its own rows: dashes
and a one-line note, never the compare.

Under torchrun the compare is cut into the (model, seed block) jobs of ``plan``, which the
ranks share out (``genzoo.training.shards``); rank 0 merges what they measured, seed by seed,
into the same results a single process would summarise.
"""

from __future__ import annotations

import dataclasses
import json
import math
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from genzoo import api
from genzoo.core import config as config_lib
from genzoo.core.atomic import atomic_write_bytes
from genzoo.core.config import MAX_SEEDS
from genzoo.core.errors import GenzooError, ReportedElsewhere, what_is
from genzoo.core.model import can_phrase
from genzoo.core.registry import Registry
from genzoo.data.base import Dataset
from genzoo.evaluators.base import check_options
from genzoo.evaluators.mode_coverage import mixture_reason
from genzoo.training.locks import LOCK_NAME, DirLock
from genzoo.training.trainer import TrainSettings, resolve_device

TOY_SEEDS, IMAGE_SEEDS = 10, 1  # default seeds per model
# the image compare's default evaluators, those registered at run time (others: --metric)
IMAGE_METRICS = ("reconstruction", "class-agreement", "icp", "interpolation", "svm-features",
                 "fid")
# FID's default 10,000 samples through Inception (11.4 GFLOP each) take tens of minutes per
# model on a CPU; there the image compare scores 1,000 (FID-1k, a few minutes a model and the
# issue's protocol) unless --eval-option fid_samples=N says otherwise. The table states it.
CPU_FID_SAMPLES = 1_000


def default_out(dataset: str) -> Path:
    """``compare/DATASET-YYYYmmdd-HHMMSS`` under the current directory."""
    safe = dataset.replace(":", "_").replace("/", "_")
    return Path("compare") / f"{safe}-{time.strftime('%Y%m%d-%H%M%S')}"


@dataclass
class CompareSettings:
    models: list[str]
    dataset: str
    seeds: int | None = None  # seeds 0..seeds-1 per model; None: TOY_SEEDS or IMAGE_SEEDS
    steps: int | None = None  # None: each model's own suggested `steps`
    batch_size: int | None = None  # None: each model's own suggested `batch_size`
    preset: str = "default"
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)  # model -> settings
    device: str = "auto"
    eval_options: dict[str, Any] = field(default_factory=dict)  # passed to every evaluator
    metrics: list[str] | None = None  # evaluators to run; None: the dataset kind's default
    data_options: dict[str, Any] = field(default_factory=dict)  # e.g. data_dir
    # raw, or a guided sampler (genzoo.core.sampling): models with a discriminator get a second
    # column NAME+SAMPLER scored on guided samples by the evaluators that sample
    sampler: str = "raw"
    config_file: dict[str, Any] | None = None  # `--config FILE`: its path, what overrode it


def parse_sets(items: Sequence[str], registry: Registry,
               models: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``[MODEL.]KEY=VALUE`` strings -> per-model overrides.

    Without ``MODEL.`` a setting goes to every compared model whose config has that field; a
    setting no compared model has is an error (a typo should not be silently ignored).
    """
    out: dict[str, dict[str, Any]] = {m: {} for m in models}
    for item in items:
        key, sep, value = item.partition("=")
        target, dot, bare = key.rpartition(".")
        if not sep:
            raise GenzooError(f"--set {item!r} must look like [MODEL.]KEY=VALUE")
        if dot and target not in out:
            raise GenzooError(f"--set {item!r} names model {target!r}, which is not being "
                              f"compared ({', '.join(models)})")
        targets = [target] if dot else list(models)
        applied = False
        for m in targets:
            cls = registry.model(m)
            if dot or bare.strip().replace("-", "_") in config_lib.field_types(cls.Config):
                out[m].update(config_lib.parse_overrides(cls.Config, [f"{bare}={value}"]))
                applied = True
        if not applied:
            raise GenzooError(f"--set {item!r}: no compared model has a setting {bare!r}")
    return out


Progress = Callable[[str], None]


@dataclass
class Job:
    """One model trained for a block of its seeds into a run directory of its own."""

    model: str
    seeds: list[int]
    run_dir: Path
    rank: int = 0  # the rank that trains it, under torchrun


def plan(models: Sequence[str], seeds: int, out: Path, world: int = 1) -> list[Job]:
    """The (model, block of seeds) jobs of a compare over ``world`` ranks, each with its rank.

    A model's seeds are split into ``min(seeds, world)`` blocks, so with at least as many seeds
    as ranks every rank trains a share of every model and the ranks' loads match whatever the
    models cost; with fewer seeds the blocks are dealt out in turn. One block (a single process,
    or one seed) keeps the run directory ``OUT/runs/MODEL``; several get
    ``OUT/runs/MODEL/seeds-A-B``.
    """
    from genzoo.training.shards import assign, split

    blocks = max(1, min(seeds, world))
    jobs = []
    for name in models:
        for block in split(seeds, blocks):
            run_dir = out / "runs" / name
            if blocks > 1:
                run_dir = run_dir / f"seeds-{block[0]}-{block[-1]}"
            jobs.append(Job(name, list(block), run_dir))
    for job, rank in zip(jobs, assign([len(j.seeds) for j in jobs], world), strict=True):
        job.rank = rank
    return jobs


SETTINGS_FILE = "compare.json"  # OUT/compare.json: what `genzoo compare --resume OUT` reruns


def load_settings(out: Path) -> CompareSettings:
    """The settings a compare recorded in ``out`` when it started (``--resume``)."""
    path = out / SETTINGS_FILE
    if not out.is_dir():
        raise GenzooError(f"--resume {out}: no such folder")
    try:
        data = json.loads(path.read_text())
        names = {f.name for f in dataclasses.fields(CompareSettings)}
        return CompareSettings(**{k: v for k, v in data["settings"].items() if k in names})
    except FileNotFoundError:
        raise GenzooError(f"--resume {out}: it holds no {SETTINGS_FILE}, so it is not a "
                          f"compare's output folder (or one from before compares recorded "
                          f"their settings)") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise GenzooError(f"--resume {out}: {path} is damaged ({type(exc).__name__}: "
                          f"{exc})") from None


def run_compare(registry: Registry, settings: CompareSettings, out: Path, *,
                progress: bool = False, say: Progress | None = None, resume: bool = False
                ) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Train, evaluate and report. Returns the results.json object and the figure data
    (``reports.toy.FigureData`` per model on toy data, ``reports.images.ImageFigureData``
    on images).

    Started by torchrun, the ranks share the jobs of ``plan`` (see
    ``genzoo.training.shards``): rank 0 gathers what they measured and returns the whole;
    the other ranks return None once they have handed their part over.
    """
    from genzoo.training import distributed

    say = say or (lambda _msg: None)
    dataset = registry.dataset(settings.dataset, **settings.data_options)  # unknown names fail
    is_image = dataset.spec.kind == "image"
    if settings.seeds is None:
        settings = dataclasses.replace(settings, seeds=IMAGE_SEEDS if is_image else TOY_SEEDS)
    # once, for every job and for results.json: FID-1k on a CPU unless fid_samples is given
    settings = dataclasses.replace(settings, eval_options=_eval_options(registry, settings,
                                                                        is_image))
    if distributed.env_world_size() > 1:
        return _run_sharded(registry, settings, out, dataset, progress, say, resume)
    _validate(registry, settings, out, dataset, resume)
    lock = DirLock(out, "a compare").acquire()  # one compare per --out
    try:
        _record_settings(settings, out)
        jobs = plan(settings.models, settings.seeds, out)
        begun = time.perf_counter()
        done = [_run_job(registry, settings, job, dataset, progress, say, resume)
                for job in jobs]
        return _merge(registry, settings, dataset, done, time.perf_counter() - begun, world=1)
    finally:
        lock.release()


def _record_settings(settings: CompareSettings, out: Path) -> None:
    import genzoo
    from genzoo.core.atomic import atomic_write_json

    atomic_write_json(out / SETTINGS_FILE, {
        "genzoo": genzoo.__version__, "settings": json.loads(json.dumps(
            dataclasses.asdict(settings), default=str))})


def _run_sharded(registry: Registry, settings: CompareSettings, out: Path, dataset: Dataset,
                 progress: bool, say: Progress, resume: bool = False
                 ) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Rank r's share of the compare; rank 0 also gathers and returns the whole. A rank's own
    failure is one line naming it; torchrun then stops the others, which exit quietly
    (``genzoo.training.shards``)."""
    from genzoo.training import distributed
    from genzoo.training.shards import ranks

    with ranks() as group:
        rank, world = group.rank, group.world_size
        out = Path(group.broadcast(str(out)))  # rank 0's: a default --out is a time
        try:
            _validate(registry, settings, out, dataset, resume)
            refused = None
        except GenzooError as exc:
            refused = exc
        group.all_refuse(refused)  # said once; nobody writes before every rank has checked
        lock = None
        try:
            if group.is_main:
                lock = DirLock(out, "a compare").acquire()
                _record_settings(settings, out)
            jobs = plan(settings.models, settings.seeds, out, world)
            mine = [job for job in jobs if job.rank == rank]
            say(f"rank {rank} of {world}: " + (", ".join(
                f"{j.model} {_seed_label(j.seeds)}" for j in mine) or "no jobs"))
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
            gathered.sort(key=lambda d: order[(d["model"], d["seeds"][0])])
            return _merge(registry, settings, dataset, gathered, time.perf_counter() - begun,
                          world)
        except ReportedElsewhere:
            raise
        except BaseException as exc:
            if _sigterm(exc):  # torchrun stopping this rank: another one failed and said so
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
    from genzoo.training.runs import Run

    if not job.run_dir.exists():
        return None
    if not (job.run_dir / "checkpoints").is_dir() or not Run(job.run_dir).checkpoint_steps():
        import shutil

        shutil.rmtree(job.run_dir)
        return None
    session = api.open_run(registry, job.run_dir, device=settings.device, progress=progress)
    step, total = session.trainer.step, session.trainer.settings.steps
    say(f"{job.model}: {'trained already' if step >= total else f'resuming at step {step}'} "
        f"({job.run_dir})")
    return session


def _sigterm(exc: BaseException) -> bool:
    from genzoo.training.trainer import TrainingInterrupted

    return isinstance(exc, TrainingInterrupted) and exc.signum == signal.SIGTERM


def _run_job(registry: Registry, settings: CompareSettings, job: Job, dataset: Dataset,
             progress: bool, say: Progress, resume: bool = False) -> dict[str, Any]:
    """Train ``job.model`` for ``job.seeds`` into ``job.run_dir`` and score every seed: the
    raw per-seed values (summarised once every block is in, by ``_merge``), with what the
    run was and, for the block holding seed 0, the figure's data. Plain data: it is pickled
    from rank to rank under torchrun."""
    from genzoo.reports import images as report_images
    from genzoo.reports import toy as report_toy

    name = job.model
    is_image = dataset.spec.kind == "image"
    wanted = _wanted(registry, settings, is_image)
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
             else _seed_label(job.seeds))
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
    values, info = _evaluate(registry, session, settings.eval_options, say, wanted)
    done: dict[str, Any] = {
        "model": name, "seeds": job.seeds, "rank": job.rank, "dir": str(job.run_dir),
        "values": values, "info": info, "seconds": seconds, "steps": train.steps,
        "batch_size": train.batch_size, "vectorized": bool(cls.vectorized),
        "config": config_lib.to_dict(session.model.config), "guided": None, "figure": None}
    extra = ""
    if settings.sampler != "raw":
        done["guided"] = _evaluate_guided(registry, session, settings, say, wanted)
        if done["guided"] is not None:
            extra = (f" (+{done['guided'][1]['eval_seconds']:.1f}s on {settings.sampler} "
                     f"samples)")
    if job.seeds[0] == 0:  # the figure shows the first seed
        done["figure"] = (report_images.image_figure_data(session.model, dataset) if is_image
                          else report_toy.figure_data(session.model, dataset))
    say(f"{name}: trained in {seconds:.1f}s, evaluated in {info['eval_seconds']:.1f}s{extra}")
    return done


def _seed_label(seeds: list[int]) -> str:
    return f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {seeds[0]}-{seeds[-1]}"


def _wanted(registry: Registry, settings: CompareSettings, is_image: bool) -> list[str] | None:
    """The evaluators to run (None: every registered one that applies)."""
    if settings.metrics is None and is_image:
        return [m for m in IMAGE_METRICS if m in registry.evaluators]
    return settings.metrics


def _eval_options(registry: Registry, settings: CompareSettings, is_image: bool
                  ) -> dict[str, Any]:
    """The evaluators' options: FID-1k on a CPU unless ``fid_samples`` is given (the
    table says so)."""
    options = settings.eval_options
    wanted = _wanted(registry, settings, is_image)
    inception = {"fid", "kid"} & set(wanted if wanted is not None
                                     else registry.evaluators.names())
    if is_image and resolve_device(settings.device).type == "cpu" and inception and \
            "fid_samples" not in options:
        options = {**options, "fid_samples": CPU_FID_SAMPLES}
    return options


def _merge(registry: Registry, settings: CompareSettings, dataset: Dataset,
           done: list[dict[str, Any]], wall_seconds: float, world: int
           ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every job's values, in the order the models were named and seed by seed, summarised
    as a single process's compare would summarise them."""
    is_image = dataset.spec.kind == "image"
    wanted = _wanted(registry, settings, is_image)
    device = resolve_device(settings.device)
    results: dict[str, Any] = {"dataset": settings.dataset, "kind": dataset.spec.kind,
                               "models": {}, "settings": _settings_json(settings, device)}
    results["settings"]["ranks"] = world
    figures: dict[str, Any] = {}
    for name in settings.models:
        parts = [d for d in done if d["model"] == name]
        first = parts[0]
        blocks = [{"seeds": d["seeds"], "rank": d["rank"], "dir": d["dir"],
                   "seconds": d["seconds"], "eval_seconds": d["info"]["eval_seconds"]}
                  for d in parts]
        run = {"dir": first["dir"] if len(parts) == 1 else str(Path(first["dir"]).parent),
               "steps": first["steps"], "batch_size": first["batch_size"],
               "vectorized": first["vectorized"], "config": first["config"],
               **_merge_info([d["info"] for d in parts]), "blocks": blocks}
        # metric entries are the dicts with a "mean"; "seconds" is training wall time (the
        # slowest block's, the blocks training side by side); the rest of what describes the
        # run sits under "run" so it never reads as a metric
        seconds = max(d["seconds"] for d in parts)
        sizes = [len(d["seeds"]) for d in parts]
        results["models"][name] = {**api.summarize(concat_blocks([d["values"] for d in parts],
                                                             sizes)),
                                   "seconds": seconds, "run": {**run, "sampler": "raw"}}
        guided = [d["guided"] for d in parts if d["guided"] is not None]
        if guided:  # every block or none: whether a model can be guided is its class's
            results["models"][f"{name}+{settings.sampler}"] = {
                **api.summarize(concat_blocks([g[0] for g in guided], sizes)), "seconds": seconds,
                "run": {**run, **_merge_info([g[1] for g in guided]),
                        "sampler": settings.sampler, "raw_model": name}}
        figures[name] = next(d["figure"] for d in parts if d["figure"] is not None)
    results["wall_seconds"] = wall_seconds  # training and evaluation, all models
    results["evaluators"], results["notes"] = evaluator_notes(registry, results, wanted, dataset)
    return results, figures


def concat_blocks(parts: list[dict[str, list[float]]], sizes: list[int]
                  ) -> dict[str, list[float]]:
    """Per-seed values of consecutive seed blocks (of ``sizes`` seeds), joined metric by
    metric; a block whose evaluator failed gives NaN for each of its seeds (null in
    results.json), so every value stays beside its seed."""
    keys = list(dict.fromkeys(k for p in parts for k in p))
    return {k: [v for p, n in zip(parts, sizes, strict=True)
                for v in p.get(k, [math.nan] * n)] for k in keys}


def _merge_info(infos: list[dict[str, Any]]) -> dict[str, Any]:
    """What the blocks' evaluations skipped, failed and ran (the slowest block's time)."""
    out: dict[str, Any] = {"eval_seconds": max(i["eval_seconds"] for i in infos),
                           "skipped": {}, "errors": {}, "evaluated": []}
    for i in infos:
        out["skipped"].update(i["skipped"])
        out["errors"].update(i["errors"])
        out["evaluated"] += [n for n in i["evaluated"] if n not in out["evaluated"]]
    return out


def evaluator_notes(registry: Registry, results: dict[str, Any], wanted: list[str] | None,
                    dataset: Dataset) -> tuple[dict[str, Any], list[str]]:
    """For each evaluator that scored a model or was asked for: its metric names and, when it
    failed or scored no model, a one-line note why. The table gives a noted evaluator's
    metrics a row of dashes, so a missing number is visible rather than silently absent."""
    models = results["models"]
    names = list(wanted) if wanted is not None else registry.evaluators.names()
    out: dict[str, Any] = {}
    notes: list[str] = []
    for name in names:
        cls = registry.evaluator(name)
        scored = [m for m, e in models.items() if name in e["run"].get("evaluated", [])]
        errors: dict[str, list[str]] = {}
        for m, e in models.items():
            if name in e["run"]["errors"]:
                errors.setdefault(e["run"]["errors"][name], []).append(m)
        note = None
        if errors:
            note = "; ".join(msg if len(who) == len(models) else f"{msg} ({', '.join(who)})"
                             for msg, who in errors.items())
        elif not scored and wanted is not None:
            reasons = dict.fromkeys(e["run"]["skipped"][name] for e in models.values()
                                    if name in e["run"]["skipped"])
            note = "; ".join(reasons) or cls().applies_to(dataset) or "nothing scored"
        if scored or note:
            about = " ".join((cls.__doc__ or "").strip().split("\n\n")[0].split())
            out[name] = {"metrics": list(cls.metrics), "note": note, "about": about,
                         "labels": dict(cls.labels), "protocols": dict(cls.protocols)}
        if note:
            notes.append(f"{name}: {note}")
    return out, notes


def write_outputs(results: dict[str, Any], figures: dict[str, Any], out: Path,
                  registry: Registry) -> dict[str, Path]:
    """Write results.json, figure.png and report.html into ``out``; return their paths."""
    from genzoo.reports import findings
    from genzoo.reports import images as report_images
    from genzoo.reports import toy as report

    image = results.get("kind") == "image"
    if image:  # §4.5's findings and the published toy numbers are about the mixtures
        found = []
    else:
        dataset = registry.dataset(results["dataset"])
        mixture = dataset.mixture()
        found = findings.paper_findings(results, 0 if mixture is None else len(mixture.means))
    results["findings"] = [dataclasses.asdict(f) for f in found]
    results["published"] = {"note": "published numbers (REFERENCE.md), not measured here",
                            "rows": (report_images.PUBLISHED if image else report.PUBLISHED
                                     ).get(results["dataset"], [])}
    paths = {"results": out / "results.json", "figure": out / "figure.png",
             "report": out / "report.html"}
    # not sorted: models stay in the order they were named (the table's column order)
    text = json.dumps(results, indent=2, allow_nan=False) + "\n"
    atomic_write_bytes(paths["results"], text.encode())
    if image:
        report_images.save_figure(figures, paths["figure"])
        report_images.write_html(results, paths["figure"], paths["report"])
    else:
        report.save_figure(figures, dataset, paths["figure"])
        report.write_html(results, found, paths["figure"], paths["report"])
    return paths


def _evaluate_guided(registry: Registry, session: api.Session, settings: CompareSettings,
                     say: Progress, wanted: list[str] | None
                     ) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The evaluators that sample, on ``settings.sampler``'s samples (None and a note on
    screen when the model has no discriminator to guide them)."""
    from genzoo.core import sampling

    why = sampling.refusal(session.model, settings.sampler)
    if why:
        say(f"{session.model.name}: scored raw only ({why})")
        return None
    names = [e.name for e in registry.evaluators
             if (wanted is None or e.name in wanted) and "sample" in e.obj.requires]
    say(f"{session.model.name}: scoring {settings.sampler} samples")
    return _evaluate(registry, session, settings.eval_options, say, names, settings.sampler)


def _evaluate(registry: Registry, session: api.Session, options: dict[str, Any],
              say: Progress, wanted: list[str] | None = None, sampler: str = "raw"
              ) -> tuple[dict[str, Any], dict[str, Any]]:
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
    metrics: dict[str, Any] = {}
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
    info: dict[str, Any] = {"eval_seconds": time.perf_counter() - started,
                            "skipped": skipped, "errors": errors, "evaluated": evaluated}
    return metrics, info


def _validate(registry: Registry, settings: CompareSettings, out: Path,
              dataset: Dataset, resume: bool = False) -> None:
    if not settings.models:
        raise GenzooError("name at least one model to compare, e.g. "
                          "`genzoo compare ali gan vae --toy grid25`")
    dupes = sorted({m for m in settings.models if settings.models.count(m) > 1})
    if dupes:
        raise GenzooError(f"model(s) named twice: {', '.join(dupes)}; name each once")
    from genzoo.core import sampling

    sampling.check_sampler(settings.sampler)
    if not 0 < settings.seeds <= MAX_SEEDS:
        raise GenzooError(f"--seeds must be in 1..{MAX_SEEDS}, got {settings.seeds}")
    for name in ("steps", "batch_size"):
        value = getattr(settings, name)
        if value is not None and value <= 0:
            raise GenzooError(f"--{name.replace('_', '-')} must be a positive integer, "
                              f"got {value}")
    if settings.metrics is None and dataset.spec.kind != "image" and not any(
            registry.evaluator(n)(**settings.eval_options).applies_to(dataset) is None
            for n in registry.evaluators.names()):  # refused per metric, not per dataset
        raise GenzooError(f"no evaluator can score {dataset.spec.name!r}: "
                          f"{mixture_reason(dataset) or 'none applies'}")
    classes = []
    for name in settings.models:
        cls = registry.model(name)
        cls.make_config(dataset.spec, settings.preset, settings.overrides.get(name, {}))
        classes.append(cls)
    from genzoo.core.sampling import DEFAULTS as SAMPLER_OPTIONS

    check_options([registry.evaluator(n) for n in settings.metrics or registry.evaluators.names()],
                  settings.eval_options, also=SAMPLER_OPTIONS)
    for name in settings.metrics or []:  # asked for by name: it must be able to score something
        ev = registry.evaluator(name)(**settings.eval_options)
        why = ev.applies_to(dataset)
        if why:
            raise GenzooError(f"--metric {name}: {why}")
        if not any(ev.requires <= set(cls.capabilities) for cls in classes):
            raise GenzooError(f"--metric {name} needs a model that can "
                              f"{can_phrase(ev.requires)}; none of "
                              f"{', '.join(settings.models)} can")
    if out.exists() and not out.is_dir():
        raise GenzooError(f"--out {out} {what_is(out)}, not a folder; choose a folder for the "
                          f"compare's outputs")
    if not resume and out.exists() and any(p.name != LOCK_NAME for p in out.iterdir()):
        hint = (f", or continue that compare with `genzoo compare --resume {out}`"
                if (out / SETTINGS_FILE).exists() else "")
        raise GenzooError(f"{out} already exists and is not empty; choose another --out or "
                          f"remove it{hint}")


def _settings_json(settings: CompareSettings, device: torch.device) -> dict[str, Any]:
    out = dataclasses.asdict(settings)
    out["device"] = str(device)
    out["eval_options"] = {k: str(v) for k, v in settings.eval_options.items()}
    out["data_options"] = {k: str(v) for k, v in settings.data_options.items()}
    out["torch_threads"] = torch.get_num_threads()
    return out
