"""`genzoo compare`: train several models for N seeds each, score them all, write a report.

For every named model: one replicated model holds all N seeds (a vectorized model trains them
as one computation, any other model is stacked), the one Trainer trains it into
``OUT/runs/NAME`` (so ``genzoo evaluate OUT/runs/NAME`` works later), and the evaluators score
every seed. Then ``OUT`` gets ``results.json``, ``figure.png`` and ``report.html``.

On a toy mixture: 10 seeds by default, every registered evaluator that applies, and the
figure in the layout of the paper's Figure 8. On an image dataset: 1 seed by default (an
image model trains for minutes to hours, not seconds), the evaluators of ``IMAGE_METRICS``
that are registered (``--metric`` chooses others), and a figure of samples and
reconstructions (``genzoo.reports.images``). Either way ``--metric`` restricts the evaluators.
An evaluator that fails (FID without Inception weights, say) costs only its own rows: dashes
and a one-line note, never the compare.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from genzoo import api
from genzoo.core import config as config_lib
from genzoo.core.atomic import atomic_write_bytes
from genzoo.core.errors import GenzooError
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


def _clean(value: float) -> float | None:
    """JSON has no NaN or infinity: a diverged seed's value becomes null."""
    return value if math.isfinite(value) else None


def summarize(values: dict[str, list[float]]) -> dict[str, dict[str, Any]]:
    """Per-seed values -> {"mean", "std", "values"} (population std), JSON-safe."""
    out = {}
    for key, summary in api.summarize(values).items():
        out[key] = {"mean": _clean(summary["mean"]), "std": _clean(summary["std"]),
                    "values": [_clean(v) for v in summary["values"]]}
    return out


Progress = Callable[[str], None]


def run_compare(registry: Registry, settings: CompareSettings, out: Path, *,
                progress: bool = False, say: Progress | None = None
                ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Train, evaluate and report. Returns the results.json object and the figure data
    (``reports.toy.FigureData`` per model on toy data, ``reports.images.ImageFigureData``
    on images)."""
    say = say or (lambda _msg: None)
    dataset = registry.dataset(settings.dataset, **settings.data_options)  # unknown names fail
    is_image = dataset.spec.kind == "image"
    if settings.seeds is None:
        settings = dataclasses.replace(settings, seeds=IMAGE_SEEDS if is_image else TOY_SEEDS)
    _validate(registry, settings, out, dataset)
    lock = DirLock(out, "a compare").acquire()  # one compare per --out
    try:
        return _run_compare(registry, settings, out, dataset, progress, say)
    finally:
        lock.release()


def _run_compare(registry: Registry, settings: CompareSettings, out: Path, dataset: Dataset,
                 progress: bool, say: Progress) -> tuple[dict[str, Any], dict[str, Any]]:
    from genzoo.reports import images as report_images
    from genzoo.reports import toy as report_toy

    is_image = dataset.spec.kind == "image"
    wanted = settings.metrics
    device = resolve_device(settings.device)
    if wanted is None and is_image:
        wanted = [m for m in IMAGE_METRICS if m in registry.evaluators]
    inception = {"fid", "kid"} & set(wanted if wanted is not None
                                     else registry.evaluators.names())
    if is_image and device.type == "cpu" and inception and \
            "fid_samples" not in settings.eval_options:
        settings = dataclasses.replace(
            settings, eval_options={**settings.eval_options, "fid_samples": CPU_FID_SAMPLES})
    results: dict[str, Any] = {"dataset": settings.dataset, "kind": dataset.spec.kind,
                               "models": {}, "settings": _settings_json(settings, device)}
    figures: dict[str, Any] = {}
    begun = time.perf_counter()
    for name in settings.models:
        cls = registry.model(name)
        overrides = settings.overrides.get(name, {})
        cfg = cls.make_config(dataset.spec, settings.preset, overrides)
        train = TrainSettings(
            steps=settings.steps or getattr(cfg, "steps", TrainSettings.steps),
            batch_size=settings.batch_size or getattr(cfg, "batch_size",
                                                      TrainSettings.batch_size),
            checkpoint_every=0, checkpoint_minutes=0)  # the final one only: a compare is
        # not resumed
        say(f"{name}: training {settings.seeds} seed(s) for {train.steps} steps")
        session = api.start(registry, name, settings.dataset, out=out / "runs" / name,
                            preset=settings.preset, overrides=overrides,
                            seeds=range(settings.seeds), settings=train,
                            device=settings.device, progress=progress,
                            data_options=settings.data_options, dataset=dataset)
        started = time.perf_counter()
        session.trainer.fit()
        seconds = time.perf_counter() - started
        metrics, info = _evaluate(registry, session, settings.eval_options, say, wanted)
        eval_seconds = info["eval_seconds"]
        # metric entries are the dicts with a "mean"; "seconds" is training wall time; the
        # rest of what describes the run sits under "run" so it never reads as a metric
        results["models"][name] = {
            **metrics, "seconds": seconds,
            "run": {"dir": str(out / "runs" / name), "steps": train.steps,
                    "batch_size": train.batch_size, "vectorized": bool(cls.vectorized),
                    "config": config_lib.to_dict(session.model.config), **info}}
        results["models"][name]["run"]["sampler"] = "raw"
        if settings.sampler != "raw":
            guided = _evaluate_guided(registry, session, settings, say, wanted)
            if guided is not None:
                results["models"][f"{name}+{settings.sampler}"] = {
                    **guided[0], "seconds": seconds,
                    "run": {**results["models"][name]["run"], **guided[1],
                            "sampler": settings.sampler, "raw_model": name}}
        figures[name] = (report_images.image_figure_data(session.model, dataset) if is_image
                         else report_toy.figure_data(session.model, dataset))
        guided_entry = results["models"].get(f"{name}+{settings.sampler}")
        extra = (f" (+{guided_entry['run']['eval_seconds']:.1f}s on {settings.sampler} "
                 f"samples)" if guided_entry else "")
        say(f"{name}: trained in {seconds:.1f}s, evaluated in {eval_seconds:.1f}s{extra}")
        del session  # free this model before the next is built: peak memory is one model's
    results["wall_seconds"] = time.perf_counter() - begun  # training and evaluation, all models
    results["evaluators"], results["notes"] = evaluator_notes(registry, results, wanted, dataset)
    return results, figures


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
        found = findings.paper_findings(results, getattr(dataset, "num_modes", 0))
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
    """Metric summaries from the ``wanted`` evaluators (None: every registered one) that
    apply, and what was skipped (with the reason) or failed."""
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
        metrics.update(summarize(res.metrics))
        evaluated.append(name)
    info: dict[str, Any] = {"eval_seconds": time.perf_counter() - started,
                            "skipped": skipped, "errors": errors, "evaluated": evaluated}
    return metrics, info


def _validate(registry: Registry, settings: CompareSettings, out: Path,
              dataset: Dataset) -> None:
    if not settings.models:
        raise GenzooError("name at least one model to compare, e.g. "
                          "`genzoo compare ali gan vae --toy grid25`")
    dupes = sorted({m for m in settings.models if settings.models.count(m) > 1})
    if dupes:
        raise GenzooError(f"model(s) named twice: {', '.join(dupes)}; name each once")
    from genzoo.core import sampling

    sampling.check_sampler(settings.sampler)
    if settings.seeds <= 0:
        raise GenzooError(f"--seeds must be a positive integer, got {settings.seeds}")
    for name in ("steps", "batch_size"):
        value = getattr(settings, name)
        if value is not None and value <= 0:
            raise GenzooError(f"--{name.replace('_', '-')} must be a positive integer, "
                              f"got {value}")
    reason = mixture_reason(dataset)  # the toy figure and metrics are those of §4.5's mixtures
    if reason and dataset.spec.kind != "image":
        raise GenzooError(f"compare runs on toy Gaussian mixtures or image datasets: {reason}")
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
    if out.exists() and any(p.name != LOCK_NAME for p in out.iterdir()):
        raise GenzooError(f"{out} already exists and is not empty; choose another --out or "
                          f"remove it")


def _settings_json(settings: CompareSettings, device: torch.device) -> dict[str, Any]:
    out = dataclasses.asdict(settings)
    out["device"] = str(device)
    out["eval_options"] = {k: str(v) for k, v in settings.eval_options.items()}
    out["data_options"] = {k: str(v) for k, v in settings.data_options.items()}
    out["torch_threads"] = torch.get_num_threads()
    return out
