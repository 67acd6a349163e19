"""`genzoo compare`: the main job, several models trained and scored side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from genzoo.cli.app import (
    _data_options,
    _eval_options,
    console,
    err_console,
    plugins,
    user_errors,
)
from genzoo.core.errors import GenzooError


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
    preset: Annotated[str | None, typer.Option(
        help="Model preset: default, paper (the paper's settings) or one the model defines.",
        show_default="default")] = None,
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
    sampler: Annotated[str | None, typer.Option(
        help="raw, or drs / mh / langevin: each model with a discriminator is also scored on "
             "guided samples, in a column MODEL+SAMPLER beside its raw one.",
        show_default="raw")] = None,
    config_file: Annotated[Path | None, typer.Option(
        "--config", help="A TOML file describing the compare (models, dataset, seeds, "
                         "steps, settings, ...); options given here win.")] = None,
    resume: Annotated[Path | None, typer.Option(
        help="Continue the stopped compare in this --out folder, with the settings it "
             "recorded: finished models are kept, stopped ones resume from their "
             "checkpoints.")] = None,
):
    """Train MODELs (N seeds each) on a toy mixture or an image dataset, score them with the
    evaluators, print the table, and write results.json, figure.png and report.html to --out
    (each model's run directory goes to OUT/runs/MODEL). Under torchrun the ranks share the
    (model, seed block) jobs out and rank 0 writes the results."""
    from genzoo import compare as compare_lib
    from genzoo.evaluators.mode_coverage import mixture_reason

    with user_errors():
        reg = plugins.registry()
        if resume is not None:
            given = [name for name, value in (
                ("MODELS", models), ("--toy", toy), ("--dataset", dataset), ("--seeds", seeds),
                ("--steps", steps), ("--batch-size", batch_size), ("--set", set_),
                ("--out", out), ("--metric", metric), ("--eval-option", eval_option),
                ("--data-dir", data_dir), ("--config", config_file),
                ("--preset", preset), ("--sampler", sampler)) if value]
            if given:
                raise GenzooError(f"--resume continues a compare with the settings it "
                                  f"recorded; leave out {', '.join(given)} (only --device "
                                  f"and --progress may change)")
            settings = compare_lib.load_settings(resume)
            if device != "auto":
                settings.device = device
            _run_and_report(reg, settings, resume, progress, resume=True)
            return
        if toy is not None and dataset is not None:
            raise GenzooError("pass either --toy or --dataset, not both")
        file_info = None
        if config_file is not None:
            from genzoo.core import config_files

            spec = config_files.load_compare(config_file)
            given = {"models": bool(models), "dataset": toy is not None or dataset is not None,
                     "seeds": seeds is not None, "steps": steps is not None,
                     "batch_size": batch_size is not None, "preset": preset is not None,
                     "metrics": bool(metric), "sampler": sampler is not None,
                     "--set": bool(set_)}
            models = models or spec.models
            if not given["dataset"] and spec.dataset is not None:
                dataset = spec.dataset
            seeds = seeds if given["seeds"] else spec.seeds
            steps = steps if given["steps"] else spec.steps
            batch_size = batch_size if given["batch_size"] else spec.batch_size
            preset = preset if given["preset"] else spec.preset
            metric = metric if given["metrics"] else spec.metrics
            sampler = sampler if given["sampler"] else spec.sampler
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
        chosen = {k: v for k, v in (("preset", preset), ("sampler", sampler)) if v is not None}
        settings = compare_lib.CompareSettings(  # what is still None takes the table's default
            models=list(models), dataset=name, seeds=seeds, steps=steps, batch_size=batch_size,
            overrides=overrides, device=device, eval_options=_eval_options(eval_option or []),
            metrics=list(metric) if metric else None, data_options=_data_options(data_dir),
            **chosen)
        if file_info is not None:
            settings.config_file = file_info
        _run_and_report(reg, settings, out, progress)


def _run_and_report(reg: Any, settings: Any, out: Path, progress: bool,
                    resume: bool = False) -> None:
    """Run the compare, write its outputs and print its table; a Ctrl-C says how to go on."""
    from genzoo import compare as compare_lib
    from genzoo.reports import toy as report

    try:
        done = compare_lib.run_compare(reg, settings, out, progress=progress, resume=resume,
                                       say=lambda msg: err_console.print(msg, highlight=False))
    except KeyboardInterrupt:
        if (out / compare_lib.SETTINGS_FILE).exists():
            err_console.print(f"interrupted; the models trained so far are kept: continue "
                              f"with `genzoo compare --resume {out}`", highlight=False,
                              soft_wrap=True)
            raise typer.Exit(130) from None
        raise
    if done is None:  # a rank > 0 under torchrun: rank 0 writes and prints the whole
        return
    results, figures = done
    paths = compare_lib.write_outputs(results, figures, out, reg)
    console.print(report.rich_table(results))
    if results.kind == "image":
        from genzoo.reports import images as report_images

        published = results.published.get("rows", [])
        if published:
            console.print(report_images.published_rich(published))
    for f in results.findings:
        console.print(f"{f.claim}: [bold]{f.verdict}[/bold] ({f.evidence})", highlight=False)
    for note in results.notes:
        console.print(f"note: {note}", highlight=False, soft_wrap=True)
    console.print(f"wrote {paths['results']}, {paths['figure']} and {paths['report']}")
