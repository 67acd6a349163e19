"""What a compare is: its settings (``--set``, defaults, ``compare.json``), its checks, and
its (model, seed block) jobs."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch

import genzoo
from genzoo.core import config as config_lib
from genzoo.core import sampling
from genzoo.core.atomic import atomic_write_json
from genzoo.core.config import MAX_SEEDS
from genzoo.core.errors import GenzooError, what_is
from genzoo.core.model import can_phrase
from genzoo.core.registry import Registry
from genzoo.data.base import Dataset
from genzoo.evaluators.base import check_options
from genzoo.evaluators.mode_coverage import mixture_reason
from genzoo.training.locks import LOCK_NAME
from genzoo.training.shards import assign, split
from genzoo.training.trainer import resolve_device

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
        names = {f.name for f in fields(CompareSettings)}
        return CompareSettings(**{k: v for k, v in data["settings"].items() if k in names})
    except FileNotFoundError:
        raise GenzooError(f"--resume {out}: it holds no {SETTINGS_FILE}, so it is not a "
                          f"compare's output folder (or one from before compares recorded "
                          f"their settings)") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise GenzooError(f"--resume {out}: {path} is damaged ({type(exc).__name__}: "
                          f"{exc})") from None


def record_settings(settings: CompareSettings, out: Path) -> None:
    atomic_write_json(out / SETTINGS_FILE, {
        "genzoo": genzoo.__version__, "settings": json.loads(json.dumps(
            asdict(settings), default=str))})


def seed_label(seeds: list[int]) -> str:
    return f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {seeds[0]}-{seeds[-1]}"


def wanted_metrics(registry: Registry, settings: CompareSettings, is_image: bool
                   ) -> list[str] | None:
    """The evaluators to run (None: every registered one that applies)."""
    if settings.metrics is None and is_image:
        return [m for m in IMAGE_METRICS if m in registry.evaluators]
    return settings.metrics


def resolve_eval_options(registry: Registry, settings: CompareSettings, is_image: bool
                  ) -> dict[str, Any]:
    """The evaluators' options: FID-1k on a CPU unless ``fid_samples`` is given (the
    table says so)."""
    options = settings.eval_options
    wanted = wanted_metrics(registry, settings, is_image)
    inception = {"fid", "kid"} & set(wanted if wanted is not None
                                     else registry.evaluators.names())
    if is_image and resolve_device(settings.device).type == "cpu" and inception and \
            "fid_samples" not in options:
        options = {**options, "fid_samples": CPU_FID_SAMPLES}
    return options


def validate(registry: Registry, settings: CompareSettings, out: Path,
              dataset: Dataset, resume: bool = False) -> None:
    if not settings.models:
        raise GenzooError("name at least one model to compare, e.g. "
                          "`genzoo compare ali gan vae --toy grid25`")
    dupes = sorted({m for m in settings.models if settings.models.count(m) > 1})
    if dupes:
        raise GenzooError(f"model(s) named twice: {', '.join(dupes)}; name each once")
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
    check_options([registry.evaluator(n) for n in settings.metrics or registry.evaluators.names()],
                  settings.eval_options, also=sampling.DEFAULTS)
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


def settings_json(settings: CompareSettings, device: torch.device) -> dict[str, Any]:
    out = asdict(settings)
    out["device"] = str(device)
    out["eval_options"] = {k: str(v) for k, v in settings.eval_options.items()}
    out["data_options"] = {k: str(v) for k, v in settings.data_options.items()}
    out["torch_threads"] = torch.get_num_threads()
    return out
