"""`genzoo train`: a new run, or --resume of one; data-parallel under torchrun."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from genzoo.cli.app import (
    _data_options,
    _dataset_name,
    api,
    console,
    err_console,
    plugins,
    user_errors,
)
from genzoo.core import config as config_lib
from genzoo.core.config import MAX_SEEDS
from genzoo.core.errors import GenzooError
from genzoo.training.settings import TrainSettings

DEFAULTS = TrainSettings()  # the one table of defaults; an option left out is None here


def _check_resume_options(run_dir: Path, *, model: str | None, data: str | None,
                          sets: list[str], batch_size: int | None, seeds: int, seed: int,
                          preset: str | None, precision: str | None) -> None:
    """``--resume`` continues the run as it was started: an option that says otherwise is
    refused in one line rather than dropped (more ``--steps`` and ``--data-dir`` may change)."""
    from genzoo.training.runs import Run

    config = Run.open(run_dir).config
    train = config.get("train", {})
    if (seeds, seed) != (1, 0) and list(range(seed, seed + seeds)) != config.get("seeds"):
        raise GenzooError(f"{run_dir} was trained with seeds {config.get('seeds')}; "
                          f"--seeds/--seed cannot change on --resume (drop them)")
    for name, value, recorded in (("the model", model, config.get("model")),
                                  ("--toy/--dataset", data, config.get("dataset")),
                                  ("--batch-size", batch_size, train.get("batch_size")),
                                  ("--precision", precision, train.get("precision")),
                                  ("--preset", preset, config.get("preset"))):
        if value is not None and value != recorded:
            raise GenzooError(f"{run_dir} was started with {name} {recorded}, not {value}; "
                              f"drop {name} to continue it as it was, or train a new run "
                              f"with --out")
    if sets:
        raise GenzooError(f"--set is fixed when a run starts ({run_dir}/config.json holds "
                          f"its settings); drop it to continue, or train a new run with --out")


def train(
    model: Annotated[str | None, typer.Argument(help="Model name (see `genzoo plugins`).")] = None,
    toy: Annotated[str | None, typer.Option(help="Toy dataset: grid25, ring8 or a plugin's "
                                                 "(`genzoo plugins` lists them).")] = None,
    dataset: Annotated[str | None, typer.Option(help="Dataset name.")] = None,
    steps: Annotated[int | None, typer.Option(help="Training steps.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Examples per step per seed.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    seeds: Annotated[int, typer.Option(help="Train this many seeds (seed, seed+1, ...) "
                                            "together.")] = 1,
    preset: Annotated[str | None, typer.Option(
        help="Model preset: default, paper (the paper's settings) or one the model defines.",
        show_default="default")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Model setting KEY=VALUE "
                                                   "(repeatable).")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    out: Annotated[Path | None, typer.Option(help="Run directory to create.")] = None,
    resume: Annotated[Path | None, typer.Option(help="Continue this run directory.")] = None,
    log_every: Annotated[int | None, typer.Option(
        help="Steps between logged metrics.", show_default=str(DEFAULTS.log_every))] = None,
    checkpoint_every: Annotated[int | None, typer.Option(
        help="Steps between checkpoints (image runs also write one each epoch; 0: the final "
             "one only).", show_default=str(DEFAULTS.checkpoint_every))] = None,
    checkpoint_minutes: Annotated[float | None, typer.Option(
        help="Also write one when this many minutes have passed since the last (0: off).",
        show_default=str(DEFAULTS.checkpoint_minutes))] = None,
    precision: Annotated[str | None, typer.Option(
        help="fp32; tf32: TensorFloat-32 matrix units (CUDA only); or bf16: bfloat16 autocast "
             "in the train step, image data only (1.7x fp32's speed for SVHN on an "
             "AVX512-BF16 CPU).", show_default=DEFAULTS.precision)] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Where dataset files are.")] = None,
    download: Annotated[bool, typer.Option(help="Fetch missing dataset files (needs a "
                                                "network).")] = False,
    verify: Annotated[bool, typer.Option(help="Check dataset files against their published "
                                              "md5 (--no-verify for your own files in the "
                                              "same format).")] = True,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    tensorboard: Annotated[bool, typer.Option(help="Write TensorBoard event files to "
                                                   "RUN/tensorboard.")] = True,
    config_file: Annotated[Path | None, typer.Option(
        "--config", help="Train the run a file describes: a .toml file or a run's "
                         "config.json (which retrains that run); options given here win.")
                           ] = None,
    condition: Annotated[str | None, typer.Option(help="Conditional ALI: labels or attributes "
                                                       "(the `condition` setting).")] = None,
    labels: Annotated[int | None, typer.Option(help="Semi-supervised ALI: this many labelled "
                                                    "training examples, class-balanced (the "
                                                    "`labels` setting); prints the test "
                                                    "error at the end.")] = None,
):
    """Train MODEL on a dataset, writing a run directory (or continue one with --resume)."""
    with user_errors():
        reg = plugins.registry()
        if resume is not None:
            if condition is not None or labels is not None:
                raise GenzooError("--condition and --labels are fixed when a run starts; "
                                  "drop them with --resume")
            _check_resume_options(resume, model=model, data=toy or dataset, sets=set_ or [],
                                  batch_size=batch_size, seeds=seeds, seed=seed,
                                  preset=preset, precision=precision)
            session = api.open_run(reg, resume, device=device, progress=progress, steps=steps,
                                   fresh_ok=True, data_dir=data_dir)
            if data_dir is not None and session.trainer.run is not None:  # the data moved
                session.run.update_config(data_options={
                    **session.config.get("data_options", {}),
                    "data_dir": str(data_dir.expanduser().resolve())})
            horizon = session.config["train"].get("steps")
            trains = session.trainer.step < session.trainer.settings.steps
            if steps is not None and steps != horizon and session.trainer.run is not None \
                    and trains:  # a refused --steps leaves config.json as it was
                session.run.update_config(train={**session.config["train"], "steps": steps})
                schedules = session.model.schedules()
                if 0 < session.trainer.step < steps and schedules:
                    err_console.print(
                        f"{resume}: its schedules ({', '.join(schedules)}) now "
                        f"run to step {steps}, not {horizon}: from step "
                        f"{session.trainer.step} on it trains as a {steps}-step run would, "
                        f"so it will not equal a run of {steps} steps from the start",
                        highlight=False, soft_wrap=True)
            if session.trainer.step >= session.trainer.settings.steps:
                if session.trainer.run is not None:  # rank 0 only under torchrun
                    console.print(f"{resume} is already trained to step "
                                  f"{session.trainer.step}; pass a larger --steps to continue")
                return
        else:
            spec, overridden, file_settings, from_file = None, [], {}, {}
            if not 0 < seeds <= MAX_SEEDS:
                raise GenzooError(f"--seeds must be in 1..{MAX_SEEDS}, got {seeds}")
            seed_list = list(range(seed, seed + seeds))
            if config_file is not None:
                from genzoo.core import config_files as train_config

                spec = train_config.load(config_file)
                config_lib.check_recorded(TrainSettings, spec.train, f"--config {spec.path}")
                from_file = spec.train
                given = {"model": model is not None and model != spec.model,
                         "dataset": toy is not None or dataset is not None,
                         "preset": preset is not None, "seeds": (seed, seeds) != (0, 1),
                         "steps": steps is not None, "batch_size": batch_size is not None,
                         "precision": precision is not None, "log_every": log_every is not None,
                         "checkpoint_every": checkpoint_every is not None,
                         "checkpoint_minutes": checkpoint_minutes is not None,
                         "--set": bool(set_)}
                overridden = [k for k, v in given.items() if v]
                model = model or spec.model
                if toy is None and dataset is None:
                    dataset = spec.dataset
                preset = preset if given["preset"] else spec.preset
                seed_list = seed_list if given["seeds"] or not spec.seeds else spec.seeds
                steps = steps if given["steps"] else from_file.get("steps")
                batch_size = batch_size if given["batch_size"] else from_file.get("batch_size")
                if data_dir is None and spec.data_options.get("data_dir"):
                    data_dir = Path(spec.data_options["data_dir"])
            if model is None:
                raise GenzooError("name a model to train, e.g. `genzoo train gan --toy grid25`")
            name = _dataset_name(toy, dataset)
            cls = reg.model(model)
            if spec is not None:
                file_settings = train_config.model_settings(spec, cls.Config)
            if toy is not None and reg.dataset(toy).spec.kind != "toy":
                raise GenzooError(f"--toy takes a toy dataset (grid25, ring8); {toy} is "
                                  f"{reg.dataset(toy).spec.kind} data: pass --dataset {toy}")
            if steps is not None and steps <= 0:
                raise GenzooError(f"--steps must be a positive integer, got {steps}")
            sugar = [f"{k}={v}" for k, v in (("condition", condition), ("labels", labels))
                     if v is not None]
            overrides = {**file_settings,
                         **config_lib.parse_overrides(cls.Config, [*sugar, *(set_ or [])])}
            out = out or Path("runs") / f"{model}-{name.replace(':', '_').replace('/', '_')}-" \
                f"{time.strftime('%Y%m%d-%H%M%S')}"
            ds = reg.dataset(name, **_data_options(data_dir, download, verify))
            preset = preset or "default"
            cfg = cls.make_config(ds.spec, preset, overrides)
            # each setting: the option, else the config file's, else the model's (steps, batch
            # size), else the table's; `is None`, not `or`: an explicit 0 must be refused
            options = {"steps": steps, "batch_size": batch_size, "log_every": log_every,
                       "checkpoint_every": checkpoint_every,
                       "checkpoint_minutes": checkpoint_minutes, "precision": precision}
            model_says = {k: getattr(cfg, k) for k in ("steps", "batch_size") if hasattr(cfg, k)}
            settings = TrainSettings(tensorboard=tensorboard, **{
                k: v if v is not None else from_file.get(k, model_says.get(k, getattr(DEFAULTS, k)))
                for k, v in options.items()})
            session = api.start(reg, model, name, out=out, preset=preset, overrides=overrides,
                                seeds=seed_list, settings=settings,
                                device=device, progress=progress,
                                data_options=_data_options(data_dir, download, verify),
                                dataset=ds)
            if spec is not None and session.run is not None:  # the run records both
                session.run.update_config(config_file={
                    "path": str(spec.path.resolve()), "overridden_by_options": overridden})
            if session.run is not None and session.run.restarted:
                err_console.print(f"{out}: its earlier attempt stopped before its first "
                                  f"checkpoint; starting it again", highlight=False)
        session.trainer.fit()
        if session.trainer.run is not None and session.model.can("classify"):
            # semi-supervised runs report their classifier's test error (results.json too)
            res = api.evaluate(reg, session, ["classification"])
            err = api.summarize(res["classification"].metrics)["test_error"]
            console.print(f"test error {100 * err['mean']:.2f}% (std {100 * err['std']:.2f} "
                          f"over {session.model.replicas} seed(s))")
        if session.trainer.run is not None:  # None on ranks > 0 under torchrun
            console.print(f"run written to [bold]{session.run.path}[/bold] "
                          f"(step {session.trainer.step}, {session.trainer.seconds:.1f}s)")
