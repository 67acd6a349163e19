"""The Python API behind the CLI: build, train, resume, load and evaluate runs."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch

import genzoo
from genzoo.core import config as config_lib
from genzoo.core import sampling
from genzoo.core.errors import GenzooError, PluginError
from genzoo.core.model import Model
from genzoo.core.registry import Registry
from genzoo.data.base import Dataset
from genzoo.evaluators.base import EvalResult, check_options
from genzoo.reports.results import summarize  # noqa: F401 - public: genzoo.api.summarize
from genzoo.training import allocator, distributed, tblog
from genzoo.training.runs import Run, atomic_write_json
from genzoo.training.stack import ModelStack
from genzoo.training.trainer import Trainer, TrainSettings, resolve_device


def build_model(registry: Registry, name: str, dataset: Dataset, *, preset: str = "default",
                overrides: dict[str, Any] | None = None, seeds: Sequence[int] = (0,)) -> Model:
    """A model for ``dataset`` holding one replica per seed (stacked if not vectorized)."""
    cls = registry.model(name)
    return build_model_from_config(cls, cls.make_config(dataset.spec, preset, overrides),
                                   dataset, seeds)


@dataclass
class Session:
    """A model, its data and (optionally) its run directory and trainer."""

    model: Model
    dataset: Dataset
    run: Run | None
    trainer: Trainer
    config: dict[str, Any]


def start(registry: Registry, model_name: str, dataset_name: str, *, out: Path | None,
          preset: str = "default", overrides: dict[str, Any] | None = None,
          seeds: Sequence[int] = (0,), settings: TrainSettings | None = None,
          device: str = "auto", progress: bool = False,
          data_options: dict[str, Any] | None = None,
          dataset: Dataset | None = None) -> Session:
    """Build everything for a new training run (nothing is trained yet).

    ``dataset``, when the caller already built ``dataset_name`` (with ``data_options``), is
    used as is rather than loaded a second time.
    """
    settings = settings or TrainSettings()
    settings.validate()
    dev = resolve_device(device)
    if dataset is None:
        dataset = registry.dataset(dataset_name, **(data_options or {}))
    model = build_model(registry, model_name, dataset, preset=preset, overrides=overrides,
                        seeds=seeds)
    config = {
        "model": model_name, "dataset": dataset_name, "dataset_info": dataset.describe(),
        "data_options": {k: str(v) for k, v in (data_options or {}).items()},
        "preset": preset, "model_config": config_lib.to_dict(model.config),
        "seeds": list(seeds), "train": asdict(settings), "device": device,
        "world_size": distributed.env_world_size(),  # processes; batch_size is per process
        "genzoo_version": genzoo.__version__, "torch_version": torch.__version__,
        "plugins": {p.name: p.version for p in registry.plugins.values()},
        # who provides the model and the dataset: a run opened where that plugin is missing
        # says which plugin (and version) to install, not just "unknown model"
        "model_plugin": registry.models.get(model_name).owner,
        "dataset_plugin": (registry.datasets.get(dataset_name).owner
                           if dataset_name in registry.datasets else None),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    # under torchrun only rank 0 creates (and writes) the run directory
    run = Run.create(out, config) if out is not None and distributed.is_main_process() else None
    trainer = Trainer(model, dataset, settings, run=run, device=dev, progress=progress)
    trainer.owner = registry.whose("models", model_name)
    return Session(model, dataset, run, trainer, config)


def open_run(registry: Registry, run_dir: Path, *, device: str = "auto",
             progress: bool = False, steps: int | None = None,
             load_weights: bool = True, fresh_ok: bool = False,
             data_dir: Path | None = None) -> Session:
    """Rebuild a run's model and data from its config.json and load its latest checkpoint
    (``fresh_ok``: a run without one starts again from step 0, for ``train --resume``;
    ``data_dir``: where its dataset files are now, instead of where they were)."""
    run = Run.open(run_dir)
    config = run.config
    try:
        model_name, dataset_name = config["model"], config["dataset"]
        seeds = config["seeds"]
        train = dict(config["train"])
    except KeyError as exc:
        raise GenzooError(f"{run.path}/config.json lacks {exc}; it was not written by "
                          f"`genzoo train`") from None
    if steps is not None:
        train["steps"] = steps
    config_lib.check_recorded(TrainSettings, train, f"{run.path}/config.json: train")
    settings = TrainSettings(**{k: v for k, v in train.items()
                                if k in {f.name for f in fields(TrainSettings)}})
    data_options = dict(config.get("data_options", {}))
    if data_dir is not None:  # the data moved since the run was made
        data_options["data_dir"] = str(Path(data_dir).expanduser().resolve())
    _check_recorded_plugins(registry, run.path, config)
    dataset = registry.dataset(dataset_name, **data_options)
    cls = registry.model(model_name)
    recorded = cls.upgrade_config(dict(config.get("model_config", {})), dataset.spec)
    config_lib.check_recorded(cls.Config, recorded, f"{run.path}/config.json: model_config")
    model_config = config_lib.from_dict(cls.Config, recorded)
    model = build_model_from_config(cls, model_config, dataset, seeds)
    trainer = Trainer(model, dataset, settings, run=run, device=resolve_device(device),
                      progress=progress)
    trainer.owner = registry.whose("models", model_name)
    if load_weights:
        trainer.resume(fresh_ok=fresh_ok)
    return Session(model, dataset, run, trainer, config)


def _check_recorded_plugins(registry: Registry, run_dir: Path, config: dict[str, Any]) -> None:
    """Refuse, naming the plugin and version the run records, a run whose model or dataset
    comes from a plugin that is not loaded here (uninstalled, disabled or broken)."""
    for kind, sub in (("model", registry.models), ("dataset", registry.datasets)):
        name, owner = config.get(kind), config.get(f"{kind}_plugin")
        if not isinstance(name, str) or name in sub or not isinstance(owner, str):
            continue
        version = (config.get("plugins") or {}).get(owner)
        recorded = f"plugin {owner!r} {version}" if version else f"plugin {owner!r}"
        info = registry.plugins.get(owner)
        state = ("not installed" if info is None else
                 "disabled by GENZOO_DISABLE_PLUGINS" if info.disabled else
                 f"installed but failed to load ({info.error})" if info.error else
                 "installed but no longer registers it")
        raise GenzooError(f"{run_dir} was trained with {kind} {name!r} of {recorded}, which is "
                          f"{state} here; install or enable that plugin to use this run")


def build_model_from_config(cls: type[Model], model_config: Any, dataset: Dataset,
                            seeds: Sequence[int]) -> Model:
    """One replica per seed: a single instance if vectorized, else a ModelStack."""
    seeds = list(seeds)
    if len(seeds) > 1:  # R copies of every weight and its optimizer state: refuse what won't fit
        one = cls(model_config, dataset.spec, seeds[:1])
        weights = sum(p.numel() * p.element_size() for p in one.parameters())
        allocator.check_fits(4 * weights * len(seeds), f"{len(seeds)} seeds of {cls.name}",
                             "train fewer seeds at once (--seeds)")
    if cls.vectorized or len(seeds) == 1:
        return cls(model_config, dataset.spec, seeds)
    return ModelStack([cls(model_config, dataset.spec, [s]) for s in seeds])


def evaluate(registry: Registry, session: Session, metrics: Sequence[str], *,
             seed: int = 0, options: dict[str, Any] | None = None,
             write: bool = True, sampler: str = "raw",
             check_keys: bool = True) -> dict[str, EvalResult]:
    """Run the named evaluators on a session's model; write results.json into its run.

    ``check_keys``: refuse an option key none of ``metrics`` reads (off for a caller that
    hands one evaluator at a time the options of several, as compare does).

    ``sampler`` (``genzoo.core.sampling``): ``raw`` scores the generator itself; ``drs`` or ``mh``
    scores discriminator-guided samples, adds each evaluator's ``acceptance_rate`` and keeps
    its results under ``NAME+SAMPLER`` beside the raw ones."""
    model: Any = session.model
    if sampling.check_sampler(sampler) != "raw":
        model = sampling.Guided(session.model, sampler, session.dataset, options)
    evaluators = [registry.evaluator(name)(**(options or {})) for name in metrics]
    if check_keys:
        check_options(evaluators, options or {}, also=sampling.DEFAULTS)
    for ev in evaluators:  # refuse early, before any slow evaluator runs
        ev.check(model, session.dataset)
    out_dir = session.run.path if session.run is not None else None
    if out_dir is not None and sampler != "raw":  # the raw evaluation's images stay
        out_dir = out_dir / f"sampler-{sampler}"
        out_dir.mkdir(exist_ok=True)
    session.model.eval()
    results: dict[str, EvalResult] = {}
    with torch.no_grad():
        for ev in evaluators:
            if sampler != "raw":
                model.acceptance.proposed.zero_()
                model.acceptance.accepted.zero_()
            res = _run_evaluator(registry, ev, model, session, seed, out_dir)
            if sampler != "raw" and int(model.acceptance.proposed.sum()):
                res.metrics["acceptance_rate"] = model.acceptance.rate()
            results[ev.name] = res
    if write and session.run is not None:
        path = session.run.path / "results.json"
        previous: dict[str, Any] = {}
        if path.exists():
            try:
                previous = json.loads(path.read_text())
            except ValueError:
                previous = {}
            if not isinstance(previous, dict) or not isinstance(
                    previous.get("evaluators", {}), dict):
                raise GenzooError(f"{path} holds no evaluators' results (a JSON "
                                  f"{type(previous).__name__}); move it out of the run and "
                                  f"rerun, and genzoo writes a new one")
        step = session.trainer.step
        summaries = {}
        for name, res in results.items():
            key = name if sampler == "raw" else f"{name}+{sampler}"
            summaries[key] = summarize(res.metrics)
            previous.setdefault("evaluators", {})[key] = {
                "step": step, "sampler": sampler, "metrics": summaries[key],
                "artifacts": res.artifacts}
        atomic_write_json(path, previous)
        if session.trainer.settings.tensorboard:
            board = tblog.Board(session.run.path)
            board.metrics(summaries, step)
            board.close()
    return results


def _run_evaluator(registry: Registry, ev: Any, model: Any, session: Session, seed: int,
                   out_dir: Path | None) -> EvalResult:
    """``ev.evaluate``, with what it returns checked: an exception raised in its code, or a
    result of the wrong form, is one line naming the evaluator and the plugin that owns it."""
    whose = f"evaluator {ev.name!r} of {registry.whose('evaluators', ev.name)}"
    try:
        res = ev.evaluate(model, session.dataset, seed=seed, out_dir=out_dir)
    except GenzooError:
        raise
    except Exception as exc:
        raise PluginError(f"{whose} failed in evaluate(): {type(exc).__name__}: {exc} "
                          f"(--debug shows the traceback; report it to the plugin's "
                          f"authors)") from exc
    if not isinstance(res, EvalResult):
        raise PluginError(f"{whose} returned {type(res).__name__} from evaluate(), not an "
                          f"EvalResult")
    for key, values in res.metrics.items():
        if not isinstance(values, (list, tuple)) or len(values) != model.replicas or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            raise PluginError(f"{whose} returned metric {key!r} as {values!r:.80}; expected a "
                              f"list of {model.replicas} numbers, one per seed")
    return res


def fid(registry: Registry, a: str, b: str, *, weights: str | Path | None = None,
        kid: bool = False, batch_size: int = 100, limit: int | None = None,
        device: str = "auto", cache: bool = True,
        data_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """FID (and KID) between two image sources (``genzoo fid``): each a folder or .zip of
    images, or a dataset ``NAME[:SPLIT]``; offline (see genzoo.evaluators.inception)."""
    from genzoo.evaluators import frechet as fid_lib

    if limit is not None and limit < 2:
        raise GenzooError(f"--limit must be at least 2 images, got {limit}")
    return fid_lib.compare_sources(a, b, registry, weights=weights, with_kid=kid,
                                   batch_size=batch_size, limit=limit,
                                   device=resolve_device(device), cache=cache,
                                   data_options=data_options)
