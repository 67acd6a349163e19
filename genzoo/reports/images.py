"""The image compare's figure and report.html (the toy compare's are in ``genzoo.reports.toy``).

figure.png: a column per model (its first seed); a grid of samples on top, and beneath it, for
models that reconstruct, held-out images and their reconstructions in the paper's layout (odd
columns originals, even columns reconstructions). report.html: the same table as the terminal,
the notes of evaluators that could not run, the figure, what each metric measures, the runs and
the settings. Nothing here holds a result.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genzoo.core.errors import GenzooError
from genzoo.core.model import Model
from genzoo.data.base import Dataset
from genzoo.evaluators.base import eval_rng
from genzoo.evaluators.reconstruction import heldout_images, reconstruct_images
from genzoo.figures.grids import interleave, tile
from genzoo.reports.results import CompareResults
from genzoo.reports.toy import _table_html, figure_html, table_rows, write_page

FIGURE_SAMPLES = 64  # an 8 × 8 grid
FIGURE_PAIRS = 32  # 4 pairs a row, 8 rows: the same square as the samples
PAIRS_PER_ROW = 4


# Published numbers on MNIST (REFERENCE.md), shown beside a compare on mnist5k and labelled as
# published. Their protocols differ from genzoo's (full MNIST, other networks, other scales),
# so each row says which genzoo metric it is closest to and how it was measured.
PUBLISHED: dict[str, list[dict[str, str]]] = {
    "mnist5k": [
        {"model": "BiGAN", "metric": "reconstruction_normalized", "value": "0.62",
         "source": "Donahue et al. 2016: permutation-invariant MNIST, MLP nets, z 50-d "
                   "uniform; mean ‖x − G(E(x))‖ 5.95 over 9.60 for a random pairing (a ratio "
                   "of norms, not of squared norms as here)"},
        {"model": "ALI", "metric": "icp", "value": "8.75",
         "source": "Li et al. 2017 (ALICE), MNIST, their task classifier"},
        {"model": "ALICE", "metric": "icp", "value": "9.28",
         "source": "Li et al. 2017 (ALICE), MNIST, their task classifier"},
        {"model": "real data", "metric": "icp", "value": "9.88",
         "source": "Li et al. 2017 (ALICE), MNIST test images"},
        {"model": "ALI", "metric": "class_agreement", "value": "45.95 %",
         "source": "Belghazi et al. 2018 (MINE), Table 1: reconstructions keeping the class, "
                   "full MNIST, MLP networks"},
        {"model": "ALICE", "metric": "class_agreement", "value": "98.17 %",
         "source": "Belghazi et al. 2018 (MINE), Table 1, as above"},
        {"model": "ALI + MINE", "metric": "class_agreement", "value": "96.10 %",
         "source": "Belghazi et al. 2018 (MINE), Table 1, as above"},
        {"model": "ALI", "metric": "reconstruction_mse", "value": "0.48",
         "source": "Li et al. 2017 (ALICE), MNIST λ sweep at λ = 0, on their scale (pixels "
                   "on [-1, 1]: 4 × genzoo's [0, 1] reconstruction_mse, our reading)"},
        {"model": "ALICE", "metric": "reconstruction_mse", "value": "0.080",
         "source": "Li et al. 2017 (ALICE), MNIST λ sweep at λ = 1, on their scale, as "
                   "above"},
    ],
}


def published_rich(rows: list[dict[str, str]]) -> Any:
    """The published rows as a rich table for the terminal, titled as published."""
    from rich.table import Table

    table = Table(title="published, not measured here (REFERENCE.md; other protocols)",
                  title_style="italic")
    for col in ("model", "closest metric here", "published", "source"):
        table.add_column(col, justify="right" if col == "published" else "left",
                         style="dim" if col == "source" else None)
    for r in rows:
        table.add_row(r["model"], r["metric"], r["value"], r["source"])
    return table


def published_html(rows: list[dict[str, str]]) -> str:
    """The published rows as a grey table, or a line saying there are none for this data."""
    if not rows:
        return "<p>No published numbers are on file for this dataset.</p>"
    e = html.escape
    body = "".join(f"<tr class=\"published\"><td>{e(r['model'])}</td><td><code>{e(r['metric'])}"
                   f"</code></td><td>{e(r['value'])}</td><td>{e(r['source'])}</td></tr>"
                   for r in rows)
    return ("<p>Grey rows are <b>published</b> numbers (REFERENCE.md), not measured here; "
            "their protocols differ from this compare's, as each source says.</p>"
            "<table><tr><th>model</th><th>closest metric here</th><th>published</th>"
            f"<th>source and protocol</th></tr>{body}</table>")


@dataclass
class ImageFigureData:
    """One seed's images for figure.png, CPU tensors (n, C, H, W) in [0, 1]."""

    samples: torch.Tensor | None = None
    originals: torch.Tensor | None = None
    reconstructions: torch.Tensor | None = None
    no_reconstructions: str = "cannot reconstruct"  # what the empty panel says


def image_figure_data(model: Model, dataset: Dataset, samples: int = FIGURE_SAMPLES,
                      pairs: int = FIGURE_PAIRS) -> ImageFigureData:
    """The first seed's samples and reconstructions of held-out images, where it can."""
    fig = ImageFigureData()
    rng = eval_rng(model, 0)
    model.eval()
    with torch.no_grad():
        if model.can("sample"):
            fig.samples = model.sample(samples, rng)[0].detach().float().cpu()
        if model.can("reconstruct"):
            try:  # the figure never costs the compare: the evaluators report such failures
                fig.originals = heldout_images(dataset, pairs)
                fig.reconstructions = reconstruct_images(model, fig.originals, rng)[0]
            except GenzooError as exc:
                fig.originals, fig.no_reconstructions = None, str(exc)
    return fig


def save_figure(figures: dict[str, ImageFigureData], path: Path) -> None:
    """A column per model: samples above, reconstructions (original, reconstruction) below."""
    from genzoo.figures.plots import pyplot

    plt = pyplot()
    names = list(figures)
    fig, axes = plt.subplots(2, len(names), figsize=(3.4 * len(names), 7.2), squeeze=False)
    for col, name in enumerate(names):
        f = figures[name]
        panels = [
            (None if f.samples is None else tile(f.samples, 8), "cannot sample"),
            (None if f.reconstructions is None
             else tile(interleave(f.originals, f.reconstructions), 2 * PAIRS_PER_ROW),
             f.no_reconstructions),
        ]
        for row, (image, missing) in enumerate(panels):
            ax = axes[row][col]
            ax.set(xticks=[], yticks=[])
            if row == 0:
                ax.set_title(name)
            if col == 0:
                ax.set_ylabel(("samples", "reconstructions: original | reconstruction")[row],
                              fontsize=8)
            if image is None:
                ax.text(0.5, 0.5, missing, ha="center", va="center", transform=ax.transAxes,
                        color="grey", wrap=True)
                continue
            pixels = image.permute(1, 2, 0).numpy()
            if pixels.shape[-1] == 1:
                ax.imshow(pixels[..., 0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            else:
                ax.imshow(pixels, interpolation="nearest")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_html(results: CompareResults, figure: Path, path: Path) -> None:
    """A self-contained page: table, notes, figure (base64 PNG), metrics, runs, settings."""
    e = html.escape
    settings = results.settings
    header, rows = table_rows(results)
    seeds = settings.get("seeds", "?")
    spread = ("one seed per model" if seeds == 1 else
              f"mean ± standard deviation over {seeds} seeds (population std)")
    notes = "".join(f"<li>{e(n)}</li>" for n in results.notes) or "<li>none</li>"
    metric_items = []
    for ev_name, ev in results.evaluators.items():
        parts = [f"<li><b>{e(ev_name)}</b>: {e(ev.about)}<ul>"]
        parts += [f"<li><code>{e(m)}</code>: {e(ev.protocols.get(m, 'see the evaluator'))}</li>"
                  for m in ev.metrics]
        metric_items.append("".join(parts) + "</ul></li>")
    write_page(results, f"""
<p>{e(spread)}; preset <code>{e(str(settings.get('preset', '')))}</code>, device
<code>{e(str(settings.get('device', '')))}</code>. A dash means the model was not scored on that
metric: it lacks the capability, or the evaluator could not run (see the notes).</p>
<h2>Measured</h2>
{_table_html(header, rows)}
<h2>Published numbers</h2>
{published_html(results.published.get("rows", []))}
<h2>Notes</h2>
<ul>{notes}</ul>
<h2>Samples and reconstructions</h2>
<p>A column per model (its first seed): 64 samples; beneath, 32 held-out test images each
followed by its reconstruction (odd columns originals, even columns reconstructions, the
paper's layout). Blank panels: the model cannot do that.</p>
{figure_html(figure)}
<h2>Evaluators and metrics</h2>
<ul>{"".join(metric_items) or "<li>none ran</li>"}</ul>
<p>Each run directory below also holds the evaluators' image grids
(<code>reconstructions-seed0.png</code>, <code>interpolations-seed0.png</code>, ...).</p>
""", path)
