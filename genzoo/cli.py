"""The genzoo command line: parses, calls genzoo.api, renders with rich. Nothing else."""

from __future__ import annotations

import json
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from typer.exceptions import TyperException

from genzoo import api, plugins
from genzoo import config as config_lib
from genzoo.errors import GenzooError
from genzoo.trainer import TrainSettings

app = typer.Typer(name="genzoo", add_completion=False, no_args_is_help=True,
                  pretty_exceptions_enable=False,
                  help="Train, compare and evaluate generative models with inference.")
console = Console()
err_console = Console(stderr=True)
_state = {"debug": False}


def debug_enabled() -> bool:
    return _state["debug"] or os.environ.get("GENZOO_DEBUG", "") not in ("", "0")


@contextmanager
def user_errors():
    """Turn GenzooError into one line on stderr and exit code 2 (the traceback with --debug)."""
    try:
        yield
    except GenzooError as exc:
        if debug_enabled():
            raise
        err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        err_console.print("interrupted; the last checkpoint is intact (resume with --resume)")
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
    opts: dict[str, Any] = {"data_dir": data_dir} if data_dir is not None else {}
    if download:
        opts["download"] = True
    if not verify:
        opts["verify"] = False
    return opts


@app.command()
def train(
    model: Annotated[str | None, typer.Argument(help="Model name (see `genzoo plugins`).")] = None,
    toy: Annotated[str | None, typer.Option(help="Toy dataset: grid25 or ring8.")] = None,
    dataset: Annotated[str | None, typer.Option(help="Dataset name.")] = None,
    steps: Annotated[int | None, typer.Option(help="Training steps.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Examples per step per seed.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    seeds: Annotated[int, typer.Option(help="Train this many seeds (seed, seed+1, ...) "
                                            "together.")] = 1,
    preset: Annotated[str, typer.Option(help="Model preset: default or paper.")] = "default",
    set_: Annotated[list[str] | None, typer.Option("--set", help="Model setting KEY=VALUE "
                                                   "(repeatable).")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    out: Annotated[Path | None, typer.Option(help="Run directory to create.")] = None,
    resume: Annotated[Path | None, typer.Option(help="Continue this run directory.")] = None,
    log_every: Annotated[int, typer.Option(help="Steps between logged metrics.")] = 100,
    checkpoint_every: Annotated[int, typer.Option(help="Steps between checkpoints.")] = 1000,
    data_dir: Annotated[Path | None, typer.Option(help="Where dataset files are.")] = None,
    download: Annotated[bool, typer.Option(help="Fetch missing dataset files (needs a "
                                                "network).")] = False,
    verify: Annotated[bool, typer.Option(help="Check dataset files against their published "
                                              "md5 (--no-verify for your own files in the "
                                              "same format).")] = True,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
):
    """Train MODEL on a dataset, writing a run directory (or continue one with --resume)."""
    with user_errors():
        reg = plugins.registry()
        if resume is not None:
            session = api.open_run(reg, resume, device=device, progress=progress, steps=steps)
            if steps is not None:
                session.run.update_config(train={**session.config["train"], "steps": steps})
            if session.trainer.step >= session.trainer.settings.steps:
                console.print(f"{resume} is already trained to step {session.trainer.step}; "
                              f"pass a larger --steps to continue")
                return
        else:
            if model is None:
                raise GenzooError("name a model to train, e.g. `genzoo train gan --toy grid25`")
            name = _dataset_name(toy, dataset)
            cls = reg.model(model)
            if steps is not None and steps <= 0:
                raise GenzooError(f"--steps must be a positive integer, got {steps}")
            overrides = config_lib.parse_overrides(cls.Config, set_ or [])
            out = out or Path("runs") / f"{model}-{name.replace(':', '_').replace('/', '_')}-" \
                f"{time.strftime('%Y%m%d-%H%M%S')}"
            ds = reg.dataset(name, **_data_options(data_dir, download, verify))
            cfg = cls.make_config(ds.spec, preset, overrides)
            settings = TrainSettings(
                # `is None`, not `or`: an explicit 0 must reach validate() and be refused
                steps=steps if steps is not None else getattr(cfg, "steps", TrainSettings.steps),
                batch_size=batch_size if batch_size is not None
                else getattr(cfg, "batch_size", TrainSettings.batch_size),
                log_every=log_every, checkpoint_every=checkpoint_every)
            session = api.start(reg, model, name, out=out, preset=preset, overrides=overrides,
                                seeds=range(seed, seed + seeds), settings=settings,
                                device=device, progress=progress,
                                data_options=_data_options(data_dir, download, verify),
                                dataset=ds)
        session.trainer.fit()
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
):
    """Draw samples from a trained run: a PNG (scatter plot or image grid) or a .npy array."""
    with user_errors():
        if n <= 0:
            raise GenzooError(f"-n must be a positive integer, got {n}")
        if output.suffix.lower() not in (".png", ".npy"):
            raise GenzooError(f"output {output} must end in .png or .npy")
        session = api.open_run(plugins.registry(), run_dir, device=device)
        model = session.model
        if not model.can("sample"):
            raise GenzooError(f"model {model.name} cannot sample")
        if not 0 <= replica < model.replicas:
            raise GenzooError(f"--replica must be in 0..{model.replicas - 1}")
        import torch

        from genzoo import plots
        from genzoo.rng import ReplicaRNG

        with torch.no_grad():
            x = model.sample(n, ReplicaRNG(model.seeds, "eval"))[replica].cpu()
        plots.save_samples(x, output, session.dataset)
        console.print(f"wrote {n} samples to [bold]{output}[/bold]")


@app.command()
def evaluate(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.")],
    metric: Annotated[list[str], typer.Option("--metric", "-m", help="Evaluator name "
                                              "(repeatable).")],
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    seed: Annotated[int, typer.Option(help="Seed for the evaluation's sampling.")] = 0,
):
    """Run evaluators on a trained run; print a table and write results.json into it."""
    with user_errors():
        reg = plugins.registry()
        for name in metric:
            reg.evaluator(name)  # unknown names fail before the model loads
        session = api.open_run(reg, run_dir, device=device)
        results = api.evaluate(reg, session, metric, seed=seed)
        table = Table(title=f"{session.model.name} on {session.config['dataset']} "
                      f"(step {session.trainer.step}, {session.model.replicas} seed(s))")
        for col in ("evaluator", "metric", "mean", "std"):
            table.add_column(col)
        for ev_name, res in results.items():
            for key, summary in api.summarize(res.metrics).items():
                table.add_row(ev_name, key, f"{summary['mean']:.4g}", f"{summary['std']:.3g}")
        console.print(table)
        console.print(f"results written to [bold]{session.run.path / 'results.json'}[/bold]")


@app.command()
def compare(
    models: Annotated[list[str], typer.Argument(help="Models to compare (see `genzoo "
                                                "plugins`).")],
    toy: Annotated[str, typer.Option(help="Toy dataset: grid25 or ring8.")] = "grid25",
    seeds: Annotated[int, typer.Option(help="Seeds per model (0..N-1), trained together.")] = 10,
    steps: Annotated[int | None, typer.Option(help="Training steps (default: each model's "
                                                   "own).")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Examples per step per seed (default: "
                                                        "each model's own).")] = None,
    preset: Annotated[str, typer.Option(help="Model preset: default or paper.")] = "default",
    set_: Annotated[list[str] | None, typer.Option("--set", help="Model setting "
                                                   "[MODEL.]KEY=VALUE (repeatable); without "
                                                   "MODEL. it applies to every model that has "
                                                   "KEY.")] = None,
    out: Annotated[Path | None, typer.Option(help="Output directory (default: "
                                                  "compare/DATASET-YYYYmmdd-HHMMSS).")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
):
    """Train MODELs for N seeds each on a toy mixture, score them with every evaluator that
    applies, print mean ± std, and write results.json, figure.png and report.html to --out
    (each model's run directory goes to OUT/runs/MODEL)."""
    from genzoo import compare as compare_lib
    from genzoo import report

    with user_errors():
        reg = plugins.registry()
        overrides = compare_lib.parse_sets(set_ or [], reg, models)
        out = out or compare_lib.default_out(toy)
        settings = compare_lib.CompareSettings(
            models=list(models), dataset=toy, seeds=seeds, steps=steps, batch_size=batch_size,
            preset=preset, overrides=overrides, device=device)
        results, figures = compare_lib.run_compare(
            reg, settings, out, progress=progress,
            say=lambda msg: err_console.print(msg, highlight=False))
        paths = compare_lib.write_outputs(results, figures, out, reg)
        console.print(report.rich_table(results))
        for f in results["findings"]:
            console.print(f"{f['claim']}: [bold]{f['verdict']}[/bold] ({f['evidence']})",
                          highlight=False)
        console.print(f"wrote {paths['results']}, {paths['figure']} and {paths['report']}")


def main(argv: list[str] | None = None) -> None:
    """Entry point: one-line errors for bad usage too, exit code 2."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--debug" in args:
        _state["debug"] = True
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
    except typer.Abort:
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except GenzooError as exc:  # raised outside a command (e.g. plugin loading)
        if debug_enabled():
            raise
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except Exception:
        if debug_enabled():
            raise
        exc_type, exc_value, _ = sys.exc_info()
        print(f"internal error: {exc_type.__name__}: {exc_value}; rerun with --debug for the "
              f"traceback and report it", file=sys.stderr)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
