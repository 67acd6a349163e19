"""The genzoo command line: parses, calls genzoo.api, renders with rich. Nothing else."""

from __future__ import annotations

import errno
import importlib
import json
import math
import os
import sys
import time
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from typer.exceptions import TyperException

from genzoo.core import config as config_lib
from genzoo.core.errors import GenzooError


class _Lazy:
    """A module imported on first use: `genzoo --help`, a mistyped option and shell
    completion answer without importing torch (nearly all of the start-up time)."""

    def __init__(self, name: str):
        self._name, self._module = name, None

    def __getattr__(self, attr: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attr)


api: Any = _Lazy("genzoo.api")
distributed: Any = _Lazy("genzoo.training.distributed")
plugins: Any = _Lazy("genzoo.core.plugins")
trainer_lib: Any = _Lazy("genzoo.training.trainer")

app = typer.Typer(name="genzoo", add_completion=False, no_args_is_help=True,
                  pretty_exceptions_enable=False,
                  help="Train, compare and evaluate generative models with inference.")
console = Console()
err_console = Console(stderr=True)
_state = {"debug": False}


def debug_enabled() -> bool:
    return _state["debug"] or os.environ.get("GENZOO_DEBUG", "") not in ("", "0")


# errors of the environment, not of genzoo: a full disk, a read-only or forbidden folder
_ENVIRONMENT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


def environment_error(exc: OSError) -> str | None:
    """The one line for an OSError the user's machine caused, or None for any other."""
    if exc.errno not in _ENVIRONMENT_ERRNOS:
        return None
    where = f" writing {exc.filename}" if exc.filename else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return (f"the disk is full{where}; free some space and run the command again (files "
                f"genzoo writes are replaced only once complete: a run keeps its last "
                f"complete checkpoint)")
    return f"{exc.strerror}{where}; choose a folder you can write to, or fix its permissions"


@contextmanager
def user_errors():
    """Turn GenzooError into one line on stderr and exit code 2 (the traceback with --debug)."""
    try:
        yield
    except GenzooError as exc:
        if debug_enabled():  # the traceback, and still bad input's exit code
            traceback.print_exc()
        err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except OSError as exc:
        line = environment_error(exc)
        if line is None:
            raise
        if debug_enabled():
            traceback.print_exc()
        err_console.print(f"[red]error:[/red] {line}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt as exc:
        from genzoo.training.trainer import TrainingInterrupted

        if isinstance(exc, TrainingInterrupted):
            where = (f"; its checkpoint is in {exc.run} (continue with `genzoo train --resume "
                     f"{exc.run}`)" if exc.run is not None else "")
            err_console.print(f"interrupted at step {exc.step}{where}", highlight=False,
                              soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        err_console.print("interrupted")
        raise typer.Exit(130) from None


@app.callback()
def _main(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False):
    _state["debug"] = debug
    if debug:
        os.environ["GENZOO_DEBUG"] = "1"


@app.command("plugins")
def plugins_cmd(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False):
    """List plugins and what each registered."""
    with user_errors():
        reg = plugins.registry()
        data = reg.as_dict()
        if as_json:
            print(json.dumps(data, indent=2))
            return
        table = Table(title="genzoo plugins")
        for col in ("plugin", "distribution", "version", "models", "datasets", "evaluators"):
            table.add_column(col)
        for p in reg.plugins.values():
            if p.disabled:
                table.add_row(p.name, p.distribution, p.version,
                              "[dim]disabled (GENZOO_DISABLE_PLUGINS)", "", "")
                continue
            if p.error:
                table.add_row(p.name, p.distribution, p.version, f"[red]failed: {p.error}",
                              "", "")
                continue
            table.add_row(p.name, p.distribution, p.version, ", ".join(p.registered["models"]),
                          ", ".join(p.registered["datasets"]),
                          ", ".join(p.registered["evaluators"]))
        console.print(table)


def _dataset_name(toy: str | None, dataset: str | None) -> str:
    if toy and dataset:
        raise GenzooError("pass either --toy or --dataset, not both")
    if not (toy or dataset):
        raise GenzooError("name the data: --toy grid25|ring8 or --dataset NAME "
                          "(`genzoo plugins` lists datasets)")
    return toy or dataset  # type: ignore[return-value]


def _data_options(data_dir: Path | None, download: bool = False,
                  verify: bool = True) -> dict[str, Any]:
    # resolved: the run records it, and is sampled, evaluated and resumed from other folders
    opts: dict[str, Any] = ({"data_dir": data_dir.expanduser().resolve()}
                            if data_dir is not None else {})
    if download:
        opts["download"] = True
    if not verify:
        opts["verify"] = False
    return opts


def _check_resume_options(run_dir: Path, *, model: str | None, data: str | None,
                          sets: list[str], batch_size: int | None, seeds: int, seed: int,
                          preset: str, precision: str) -> None:
    """``--resume`` continues the run as it was started: an option that says otherwise is
    refused in one line rather than dropped (more ``--steps`` and ``--data-dir`` may change).
    Options left at their defaults are taken as not given."""
    from genzoo.training.runs import Run

    config = Run.open(run_dir).config
    train = config.get("train", {})
    recorded = {"model": config.get("model"), "data": config.get("dataset"),
                "batch_size": train.get("batch_size"), "precision": train.get("precision"),
                "preset": config.get("preset")}
    given = {"model": model, "data": data, "batch_size": batch_size,
             "precision": None if precision == "fp32" else precision,
             "preset": None if preset == "default" else preset}
    names = {"model": "the model", "data": "--toy/--dataset", "batch_size": "--batch-size",
             "precision": "--precision", "preset": "--preset"}
    if (seeds, seed) != (1, 0) and list(range(seed, seed + seeds)) != config.get("seeds"):
        raise GenzooError(f"{run_dir} was trained with seeds {config.get('seeds')}; "
                          f"--seeds/--seed cannot change on --resume (drop them)")
    for key, value in given.items():
        if value is not None and value != recorded[key]:
            raise GenzooError(f"{run_dir} was started with {names[key]} {recorded[key]}, "
                              f"not {value}; drop {names[key]} to continue it as it was, "
                              f"or train a new run with --out")
    if sets:
        raise GenzooError(f"--set is fixed when a run starts ({run_dir}/config.json holds "
                          f"its settings); drop it to continue, or train a new run with --out")


def _one_process(command: str) -> None:
    """Only `genzoo train` runs data-parallel; under torchrun every other command would run
    N times over, each copy writing the same files."""
    if distributed.env_world_size() > 1:
        raise GenzooError(f"genzoo {command} runs in one process; only `genzoo train` runs "
                          f"under torchrun: start it with plain `genzoo {command} ...`")


@app.command()
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
    preset: Annotated[str, typer.Option(
        help="Model preset: default, paper (the paper's settings) or one the model defines."
    )] = "default",
    set_: Annotated[list[str] | None, typer.Option("--set", help="Model setting KEY=VALUE "
                                                   "(repeatable).")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    out: Annotated[Path | None, typer.Option(help="Run directory to create.")] = None,
    resume: Annotated[Path | None, typer.Option(help="Continue this run directory.")] = None,
    log_every: Annotated[int, typer.Option(help="Steps between logged metrics.")] = 100,
    checkpoint_every: Annotated[int, typer.Option(help="Steps between checkpoints (image "
                                                       "runs also write one each epoch; 0: "
                                                       "the final one only).")] = 1000,
    checkpoint_minutes: Annotated[float, typer.Option(help="Also write one when this many "
                                                           "minutes have passed since the "
                                                           "last (0: off).")] = 5.0,
    precision: Annotated[str, typer.Option(help="fp32, or bf16: bfloat16 autocast in the "
                                                "train step, image data only (1.7x fp32's "
                                                "speed for SVHN on an AVX512-BF16 CPU).")] = "fp32",
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
            if steps is not None and steps != horizon and session.trainer.run is not None:
                session.run.update_config(train={**session.config["train"], "steps": steps})
                if 0 < session.trainer.step < steps:
                    err_console.print(
                        f"{resume}: its schedules (learning-rate decay, annealed noise) now "
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
            spec, overridden, file_settings = None, [], {}
            seed_list = list(range(seed, seed + seeds))
            if config_file is not None:
                from genzoo.core import config_files as train_config

                spec = train_config.load(config_file)
                t = spec.train
                given = {"model": model is not None and model != spec.model,
                         "dataset": toy is not None or dataset is not None,
                         "preset": preset != "default", "seeds": (seed, seeds) != (0, 1),
                         "steps": steps is not None, "batch_size": batch_size is not None,
                         "precision": precision != "fp32", "log_every": log_every != 100,
                         "checkpoint_every": checkpoint_every != 1000,
                         "checkpoint_minutes": checkpoint_minutes != 5.0, "--set": bool(set_)}
                overridden = [k for k, v in given.items() if v]
                model = model or spec.model
                if toy is None and dataset is None:
                    dataset = spec.dataset
                preset = preset if given["preset"] else spec.preset
                seed_list = seed_list if given["seeds"] or not spec.seeds else spec.seeds
                steps = steps if given["steps"] else t.get("steps")
                batch_size = batch_size if given["batch_size"] else t.get("batch_size")
                precision = precision if given["precision"] else t.get("precision", "fp32")
                log_every = log_every if given["log_every"] else t.get("log_every", 100)
                checkpoint_every = (checkpoint_every if given["checkpoint_every"]
                                    else t.get("checkpoint_every", 1000))
                checkpoint_minutes = (checkpoint_minutes if given["checkpoint_minutes"]
                                      else t.get("checkpoint_minutes", 5.0))
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
            cfg = cls.make_config(ds.spec, preset, overrides)
            TrainSettings = trainer_lib.TrainSettings  # noqa: N806 - the class, lazily
            settings = TrainSettings(
                # `is None`, not `or`: an explicit 0 must reach validate() and be refused
                steps=steps if steps is not None else getattr(cfg, "steps", TrainSettings.steps),
                batch_size=batch_size if batch_size is not None
                else getattr(cfg, "batch_size", TrainSettings.batch_size),
                log_every=log_every, checkpoint_every=checkpoint_every,
                checkpoint_minutes=checkpoint_minutes,
                precision=precision, tensorboard=tensorboard)
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


@app.command()
def sample(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.")],
    n: Annotated[int, typer.Option("-n", help="Number of samples.")] = 64,
    output: Annotated[Path, typer.Option("-o", "--output", help=".png or .npy file.")] = Path(
        "samples.png"),
    replica: Annotated[int, typer.Option(help="Which seed of the run (index).")] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    attrs: Annotated[str | None, typer.Option(help="Attribute-conditional runs: these "
                                                   "attributes on (comma-separated, e.g. "
                                                   "male,young,smiling), the rest off.")] = None,
    label: Annotated[int | None, typer.Option(help="Class-conditional runs: sample this "
                                                   "class.")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Where the run's dataset files are "
                                                  "now, if they moved.")] = None,
    figure7: Annotated[bool, typer.Option("--figure7", help="Attribute-conditional runs: the "
                                          "paper's Figure 7 grid, one z, attribute sets along "
                                          "rows (--rows) and columns (--cols).")] = False,
    sampler: Annotated[str, typer.Option(help="raw (the generator itself), drs "
                                         "(discriminator rejection sampling) or mh "
                                         "(Metropolis-Hastings with a calibrated D); see "
                                         "docs/models.md.")] = "raw",
    rows: Annotated[str | None, typer.Option(help="--figure7 rows: attribute sets separated "
                                                  "by ';' (default: the paper's).")] = None,
    cols: Annotated[str | None, typer.Option(help="--figure7 columns: attribute sets "
                                                  "separated by ';', each added to every "
                                                  "row's (default: the paper's).")] = None,
):
    """Draw samples from a trained run: a PNG (scatter plot or image grid) or a .npy array."""
    with user_errors():
        _one_process("sample")
        if n <= 0:
            raise GenzooError(f"-n must be a positive integer, got {n}")
        if output.suffix.lower() not in (".png", ".npy"):
            raise GenzooError(f"output {output} must end in .png or .npy")
        if output.is_dir():
            raise GenzooError(f"output {output} is a folder; name a file, e.g. "
                              f"{output / 'samples.png'}")
        session = api.open_run(plugins.registry(), run_dir, device=device, data_dir=data_dir)
        model = session.model
        if not model.can("sample"):
            raise GenzooError(f"model {model.name} cannot sample")
        if not 0 <= replica < model.replicas:
            raise GenzooError(f"--replica must be in 0..{model.replicas - 1}")
        from genzoo.training import allocator

        allocator.check_fits(4 * n * model.replicas * math.prod(session.dataset.spec.x_shape),
                             f"-n {n}", "ask for fewer samples")
        import torch

        from genzoo.core.rng import ReplicaRNG
        from genzoo.figures import plots

        model.eval()  # BatchNorm's running statistics, no dropout: as evaluators sample
        rng = ReplicaRNG(model.seeds, "eval")
        from genzoo.core import sampling

        sampling.check_sampler(sampler)
        if sampler != "raw":
            if figure7 or attrs is not None or label is not None:
                raise GenzooError("--sampler drs|mh draws unconditional samples; leave out "
                                  "--figure7, --attrs and --label")
            model = sampling.Guided(model, sampler, session.dataset)
        cond = getattr(model.config, "condition", "none")
        if figure7:
            from genzoo.core import conditions
            from genzoo.figures import grids

            _require_condition(cond, "attributes", "--figure7")
            names = session.dataset.spec.attributes
            row_sets = conditions.parse_sets(rows, conditions.FIGURE7_ROWS)
            col_sets = conditions.parse_sets(cols, conditions.FIGURE7_COLS)
            y = conditions.grid_attributes(row_sets, col_sets, names)
            with torch.no_grad():  # one z for the whole grid, as in the paper
                z = model.sample_prior(1, rng).expand(-1, len(y), -1)
                x = model.decode(z, y=y)[replica].cpu()
            grids.save_grid(x, output, ncol=len(col_sets))
            console.print(f"wrote a {len(row_sets)}×{len(col_sets)} Figure 7 grid to "
                          f"[bold]{output}[/bold]")
            return
        y = None
        if attrs is not None and label is not None:
            raise GenzooError("pass --attrs (attribute-conditional runs) or --label "
                              "(class-conditional runs), not both")
        if attrs is not None:
            from genzoo.core import conditions

            _require_condition(cond, "attributes", "--attrs")
            y = conditions.attribute_vector(attrs, session.dataset.spec.attributes)
            y = y.expand(n, -1)
        if label is not None:
            _require_condition(cond, "labels", "--label")
            if not 0 <= label < session.dataset.spec.num_classes:
                raise GenzooError(f"--label must be in 0..{session.dataset.spec.num_classes - 1}")
            y = torch.full((n,), label, dtype=torch.int64)
        with torch.no_grad():
            x = (model.sample(n, rng) if y is None
                 else model.sample(n, rng, y=y))[replica].cpu()
        plots.save_samples(x, output, session.dataset)
        rate = (f" ({sampler}: {100 * model.acceptance.rate()[replica]:.1f}% of proposals "
                f"accepted)" if sampler != "raw" else "")
        console.print(f"wrote {n} samples to [bold]{output}[/bold]{rate}")


def _require_condition(condition: str, needed: str, option: str) -> None:
    if condition != needed:
        raise GenzooError(f"{option} needs a run trained with --condition {needed}; this run's "
                          f"condition is {condition}")


@app.command()
def evaluate(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.")],
    metric: Annotated[list[str], typer.Option("--metric", "-m", help="Evaluator name "
                                              "(repeatable).")],
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    seed: Annotated[int, typer.Option(help="Seed for the evaluation's sampling.")] = 0,
    eval_option: Annotated[list[str] | None, typer.Option(
        "--eval-option", help="KEY=VALUE passed to every evaluator (repeatable), e.g. "
                              "fid_samples=1000.")] = None,
    fid_weights: Annotated[Path | None, typer.Option(help="Inception weights for fid/kid "
                                                     "(default: found as `genzoo fid` "
                                                     "finds them).")] = None,
    labels: Annotated[int | None, typer.Option(help="svm-features: labelled examples per "
                                               "draw (default 1000).")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Where the run's dataset files are "
                                                  "now, if they moved.")] = None,
    draws: Annotated[int | None, typer.Option(help="svm-features: label draws averaged "
                                              "(default 100).")] = None,
    sampler: Annotated[str, typer.Option(help="raw (the generator itself), drs "
                                         "(discriminator rejection sampling) or mh "
                                         "(Metropolis-Hastings with a calibrated D); see "
                                         "docs/models.md.")] = "raw",
):
    """Run evaluators on a trained run; print a table and write results.json into it."""
    with user_errors():
        _one_process("evaluate")
        reg = plugins.registry()
        for name in metric:
            reg.evaluator(name)  # unknown names fail before the model loads
        options = _eval_options(eval_option or [])
        if fid_weights is not None:
            options["fid_weights"] = str(fid_weights)
        for key, value in (("labels", labels), ("draws", draws)):
            if value is not None:
                options[key] = value
        session = api.open_run(reg, run_dir, device=device, data_dir=data_dir)
        results = api.evaluate(reg, session, metric, seed=seed, options=options,
                               sampler=sampler)
        guided = f", samples by {sampler}" if sampler != "raw" else ""
        table = Table(title=f"{session.model.name} on {session.config['dataset']} "
                      f"(step {session.trainer.step}, {session.model.replicas} seed(s)"
                      f"{guided})")
        for col in ("evaluator", "metric", "mean", "std"):
            table.add_column(col)
        for ev_name, res in results.items():
            for key, summary in api.summarize(res.metrics).items():
                table.add_row(ev_name, key, f"{summary['mean']:.4g}", f"{summary['std']:.3g}")
        console.print(table)
        console.print(f"results written to [bold]{session.run.path / 'results.json'}[/bold]")


@app.command()
def compare(
    models: Annotated[list[str] | None, typer.Argument(help="Models to compare (see `genzoo "
                                                       "plugins`).")] = None,
    toy: Annotated[str | None, typer.Option(help="Toy dataset: grid25 (the default), ring8 "
                                                 "or a plugin's.")] = None,
    dataset: Annotated[str | None, typer.Option(help="Image dataset, e.g. mnist5k (see "
                                                     "`genzoo plugins`).")] = None,
    seeds: Annotated[int | None, typer.Option(help="Seeds per model (0..N-1), trained "
                                                   "together (default: 10 on toy data, 1 on "
                                                   "images).")] = None,
    steps: Annotated[int | None, typer.Option(help="Training steps (default: each model's "
                                                   "own).")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Examples per step per seed (default: "
                                                        "each model's own).")] = None,
    preset: Annotated[str, typer.Option(
        help="Model preset: default, paper (the paper's settings) or one the model defines."
    )] = "default",
    set_: Annotated[list[str] | None, typer.Option("--set", help="Model setting "
                                                   "[MODEL.]KEY=VALUE (repeatable); without "
                                                   "MODEL. it applies to every model that has "
                                                   "KEY.")] = None,
    out: Annotated[Path | None, typer.Option(help="Output directory (default: "
                                                  "compare/DATASET-YYYYmmdd-HHMMSS).")] = None,
    metric: Annotated[list[str] | None, typer.Option(
        "--metric", "-m", help="Evaluator to run (repeatable; default: every one that applies "
                               "on toy data; reconstruction, interpolation, svm-features and "
                               "fid where registered on images).")] = None,
    eval_option: Annotated[list[str] | None, typer.Option(
        "--eval-option", help="KEY=VALUE passed to every evaluator (repeatable), e.g. "
                              "heldout=500.")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Where dataset files are.")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    sampler: Annotated[str, typer.Option(help="raw, or drs / mh: each model with a "
                                         "discriminator is also scored on guided samples, "
                                         "in a column MODEL+SAMPLER beside its raw one.")
                       ] = "raw",
    config_file: Annotated[Path | None, typer.Option(
        "--config", help="A TOML file describing the compare (models, dataset, seeds, "
                         "steps, settings, ...); options given here win.")] = None,
):
    """Train MODELs (N seeds each) on a toy mixture or an image dataset, score them with the
    evaluators, print the table, and write results.json, figure.png and report.html to --out
    (each model's run directory goes to OUT/runs/MODEL)."""
    from genzoo import compare as compare_lib
    from genzoo.evaluators.mode_coverage import mixture_reason
    from genzoo.reports import toy as report

    with user_errors():
        _one_process("compare")
        reg = plugins.registry()
        if toy is not None and dataset is not None:
            raise GenzooError("pass either --toy or --dataset, not both")
        file_info = None
        if config_file is not None:
            from genzoo.core import config_files

            spec = config_files.load_compare(config_file)
            given = {"models": bool(models), "dataset": toy is not None or dataset is not None,
                     "seeds": seeds is not None, "steps": steps is not None,
                     "batch_size": batch_size is not None, "preset": preset != "default",
                     "metrics": bool(metric), "sampler": sampler != "raw", "--set": bool(set_)}
            models = models or spec.models
            if not given["dataset"] and spec.dataset is not None:
                dataset = spec.dataset
            seeds = seeds if given["seeds"] else spec.seeds
            steps = steps if given["steps"] else spec.steps
            batch_size = batch_size if given["batch_size"] else spec.batch_size
            preset = preset if given["preset"] or spec.preset is None else spec.preset
            metric = metric if given["metrics"] else spec.metrics
            sampler = sampler if given["sampler"] or spec.sampler is None else spec.sampler
            set_ = [*spec.sets, *(set_ or [])]  # the command line's last: it wins
            eval_option = [*(f"{k}={v}" for k, v in spec.eval_options.items()),
                           *(eval_option or [])]
            file_info = {"path": str(spec.path.resolve()),
                         "overridden_by_options": [k for k, v in given.items() if v]}
        models = list(models or [])
        name = dataset or toy or "grid25"
        if toy is not None:
            reason = mixture_reason(reg.dataset(toy))
            if reason:
                raise GenzooError(f"compare runs on toy Gaussian mixtures with --toy; "
                                  f"{reason}; pass an image dataset with --dataset")
        for ev in metric or []:
            reg.evaluator(ev)  # unknown names fail before anything is built
        overrides = compare_lib.parse_sets(set_ or [], reg, models)
        out = out or compare_lib.default_out(name)
        settings = compare_lib.CompareSettings(
            models=list(models), dataset=name, seeds=seeds, steps=steps, batch_size=batch_size,
            preset=preset, overrides=overrides, device=device,
            eval_options=_eval_options(eval_option or []), metrics=list(metric) if metric
            else None, data_options=_data_options(data_dir), sampler=sampler)
        if file_info is not None:
            settings.config_file = file_info
        results, figures = compare_lib.run_compare(
            reg, settings, out, progress=progress,
            say=lambda msg: err_console.print(msg, highlight=False))
        paths = compare_lib.write_outputs(results, figures, out, reg)
        console.print(report.rich_table(results))
        for f in results["findings"]:
            console.print(f"{f['claim']}: [bold]{f['verdict']}[/bold] ({f['evidence']})",
                          highlight=False)
        for note in results.get("notes", []):
            console.print(f"note: {note}", highlight=False, soft_wrap=True)
        console.print(f"wrote {paths['results']}, {paths['figure']} and {paths['report']}")


def _eval_options(items: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings -> evaluator options; numbers become int or float."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise GenzooError(f"--eval-option {item!r} must look like KEY=VALUE")
        parsed: Any = value
        for kind in (int, float):
            try:
                parsed = kind(value)
                break
            except ValueError:
                continue
        out[key.strip().replace("-", "_")] = parsed
    return out


@app.command("fid")
def fid_cmd(
    a: Annotated[str, typer.Argument(help="A folder (or .zip) of images, or a dataset "
                                          "NAME[:SPLIT] (split train unless given).")],
    b: Annotated[str, typer.Argument(help="The other side, the same way.")],
    kid: Annotated[bool, typer.Option("--kid", help="Also print KID (mean ± std over "
                                                    "subsets).")] = False,
    fid_weights: Annotated[Path | None, typer.Option(help="Inception weights file (default: "
                                                     "$GENZOO_FID_WEIGHTS, torch-fidelity's "
                                                     "download, or genzoo's converted "
                                                     "copy).")] = None,
    limit: Annotated[int | None, typer.Option(help="Use at most the first N images of each "
                                                   "side.")] = None,
    batch_size: Annotated[int, typer.Option(help="Images per Inception pass.")] = 100,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    data_dir: Annotated[Path | None, typer.Option(help="Where dataset files are.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
):
    """FID between two sets of images (folders or dataset splits), offline."""
    with user_errors():
        _one_process("fid")
        result = api.fid(plugins.registry(), a, b, weights=fid_weights, kid=kid,
                         batch_size=batch_size, limit=limit, device=device,
                         data_options=_data_options(data_dir))
        if as_json:
            print(json.dumps(result, indent=2))
            return
        err_console.print(f"{result['a']} ({result['images'][0]} images) against {result['b']} "
                          f"({result['images'][1]} images)", highlight=False)
        print(f"FID {result['fid']:.4f}")
        if kid:
            print(f"KID {result['kid']:.6f} ± {result['kid_std']:.6f}")


def main(argv: list[str] | None = None) -> None:
    """Entry point: one-line errors for bad usage too, exit code 2."""
    args = list(sys.argv[1:] if argv is None else argv)
    _state["debug"] = "--debug" in args  # per call: an embedding program may call main again
    try:
        # without standalone mode, an Exit raised in a command comes back as the return value
        code = app(args=args, standalone_mode=False, prog_name="genzoo")
    except TyperException as exc:  # usage errors: unknown option, missing argument, bad value
        if debug_enabled():
            raise
        ctx = getattr(exc, "ctx", None)
        cmd = ctx.command_path if ctx is not None else "genzoo"
        print(f"error: {exc.format_message()} (see `{cmd} --help`)", file=sys.stderr)
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):  # Ctrl-C before a command's own handler
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except GenzooError as exc:  # raised outside a command (e.g. plugin loading)
        if debug_enabled():
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except OSError as exc:
        line = environment_error(exc)
        if line is None:
            raise_internal()
        if debug_enabled():
            traceback.print_exc()
        print(f"error: {line}", file=sys.stderr)
        sys.exit(2)
    except Exception:
        raise_internal()
    sys.exit(code if isinstance(code, int) else 0)


def raise_internal() -> None:
    """For an exception being handled that is genzoo's fault: one line and exit 1."""
    if debug_enabled():
        raise
    exc_type, exc_value, _ = sys.exc_info()
    print(f"internal error: {exc_type.__name__}: {exc_value}; rerun with --debug for the "
          f"traceback and report it", file=sys.stderr)
    sys.exit(1)


if __name__ == "__main__":
    main()
