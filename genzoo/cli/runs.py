"""The commands that read trained runs or image sets: `sample`, `evaluate` and `fid`."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from genzoo.cli.app import (
    _data_options,
    _eval_options,
    _one_process,
    api,
    console,
    err_console,
    plugins,
    user_errors,
)
from genzoo.core.errors import GenzooError

SamplerOption = Annotated[str, typer.Option(
    help="raw (the generator itself), drs (discriminator rejection sampling), mh "
         "(Metropolis-Hastings with a calibrated D) or langevin (latents moved along D's "
         "gradient); see docs/models.md.")]


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
    sampler: SamplerOption = "raw",
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

        numel = math.prod(session.dataset.spec.x_shape)
        if output.suffix.lower() == ".png":  # a figure of all n: they are held at once
            allocator.check_fits(4 * n * numel, f"-n {n}", "ask for fewer samples")
        else:  # written chunk by chunk: only the disk bounds n
            _check_disk(output, 4 * n * numel, f"-n {n}")
        import torch

        from genzoo.core import conditions, sampling
        from genzoo.core.rng import ReplicaRNG
        from genzoo.figures import plots

        model.eval()  # BatchNorm's running statistics, no dropout: as evaluators sample
        rng = ReplicaRNG(model.seeds, "eval")
        sampling.check_sampler(sampler)
        if sampler != "raw":
            if figure7 or attrs is not None or label is not None:
                raise GenzooError("guided samplers draw unconditional samples; leave out "
                                  "--figure7, --attrs and --label")
            model = sampling.Guided(model, sampler, session.dataset)
        cond = getattr(model.config, "condition", "none")
        if figure7:
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
            _require_condition(cond, "attributes", "--attrs")
            y = conditions.attribute_vector(attrs, session.dataset.spec.attributes).expand(n, -1)
        if label is not None:
            _require_condition(cond, "labels", "--label")
            if not 0 <= label < session.dataset.spec.num_classes:
                raise GenzooError(f"--label must be in 0..{session.dataset.spec.num_classes - 1}")
            y = torch.tensor([label], dtype=torch.int64).expand(n)  # a view: no n-sized copy
        chunks = _sample_chunks(model, n, rng, y, replica, session.dataset.spec.x_shape,
                                plugins.registry())
        if output.suffix.lower() == ".npy":
            _save_npy_chunks(chunks, output, (n, *session.dataset.spec.x_shape))
        else:
            plots.save_samples(torch.cat(list(chunks)), output, session.dataset)
        rate = (f" ({sampler}: {100 * model.acceptance.rate()[replica]:.1f}% of proposals "
                f"accepted)" if sampler != "raw" else "")
        console.print(f"wrote {n} samples to [bold]{output}[/bold]{rate}")


SAMPLE_CHUNK = 10_000  # samples per model call: memory stays bounded whatever -n is


def _sample_chunks(model: Any, n: int, rng: Any, y: Any, replica: int,
                   x_shape: Sequence[int], registry: Any) -> Iterator[Any]:
    """Replica ``replica``'s samples, SAMPLE_CHUNK at a time, each checked against the data's
    shape (a model returning another is named with its plugin)."""
    import torch

    for start in range(0, n, SAMPLE_CHUNK):
        m = min(SAMPLE_CHUNK, n - start)
        with torch.no_grad():
            x = (model.sample(m, rng) if y is None
                 else model.sample(m, rng, y=y[start : start + m]))
        want = (model.replicas, m, *x_shape)
        if tuple(x.shape) != want:
            raise GenzooError(f"model {model.name!r} of {registry.whose('models', model.name)} "
                              f"returned samples of shape {tuple(x.shape)} from sample({m}); "
                              f"expected {want} (replicas, n, *the data's shape)")
        yield x[replica].cpu()


def _check_disk(output: Path, need: int, what: str) -> None:
    import shutil

    folder = output.resolve().parent
    while not folder.exists():
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if need > free:
        raise GenzooError(f"{what} writes {need / 2**30:.1f} GiB to {output}, more than the "
                          f"{free / 2**30:.1f} GiB free there; ask for fewer samples")


def _save_npy_chunks(chunks: Iterator[Any], output: Path, shape: tuple[int, ...]) -> None:
    """An .npy of ``shape`` filled chunk by chunk through a memory map, renamed into place
    when complete (an interrupted write leaves no partial file behind)."""
    import numpy as np

    from genzoo.core.atomic import atomic_file

    with atomic_file(output) as tmp:
        array = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=shape)
        at = 0
        for x in chunks:
            array[at : at + len(x)] = x.float().numpy()
            at += len(x)
        array.flush()
        del array


def _require_condition(condition: str, needed: str, option: str) -> None:
    if condition != needed:
        raise GenzooError(f"{option} needs a run trained with --condition {needed}; this run's "
                          f"condition is {condition}")


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
    sampler: SamplerOption = "raw",
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
                if summary["mean"] is None:
                    table.add_row(ev_name, key, f"not finite ({summary['not_finite']} of "
                                  f"{len(summary['values'])} seeds)", "–")
                else:
                    table.add_row(ev_name, key, f"{summary['mean']:.4g}",
                                  f"{summary['std']:.3g}")
        console.print(table)
        console.print(f"results written to [bold]{session.run.path / 'results.json'}[/bold]")


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
