"""Compare reports: the table (rich and HTML), figure.png in Figure 8's layout, report.html.

Everything here renders a compare's results (``genzoo.reports.results``); the published numbers of
REFERENCE.md are the only numbers written in this file, and they are always labelled
"published" with their source.
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from genzoo.core.atomic import atomic_write_bytes
from genzoo.core.model import Model
from genzoo.data.base import Dataset
from genzoo.evaluators.base import eval_rng, heldout, prior_draws
from genzoo.evaluators.fid import DEFAULT_SAMPLES
from genzoo.reports.results import CompareResults, Metric, ModelResult, RunRecord

if TYPE_CHECKING:
    from rich.table import Table

DASH = "–"


# metric -> the format of its mean and of its std, in table order ("%": a percentage with one
# decimal); unknown metrics get .4g ± .2g. Labels come from the evaluators (Evaluator.labels,
# recorded in results.json).
METRICS: dict[str, tuple[str, str]] = {
    "modes_paper": (".1f", ".1f"), "dropped_modes_paper": (".1f", ".1f"),
    "modes": (".1f", ".1f"), "high_quality": ("%", "%"), "reverse_kl": (".3f", ".3f"),
    "acceptance_rate": ("%", "%"), "latent_match": (".3f", ".3f"),
    "latent_recall": ("%", "%"),
    "reconstruction_error": (".3g", ".2g"), "reconstruction_mode_accuracy": ("%", "%"),
    "reconstruction_mse": (".4f", ".4f"), "reconstruction_normalized": (".3f", ".3f"),
    "interpolation_endpoint_mse": (".4f", ".4f"), "interpolation_largest_step": (".3f", ".3f"),
}


def _fmt(value: float, spec: str) -> str:
    return f"{100 * value:.1f}" if spec == "%" else format(value, spec)


# Published results (REFERENCE.md). PacGAN/VEEGAN protocol unless the column says paper.
# "±" is the standard error over 10 trials for PacGAN Table 1; the ALI paper's ± as printed.
PUBLISHED: dict[str, list[dict[str, Any]]] = {
    "grid25": [
        {"model": "GAN", "modes_paper": "10.4 ± 9.2",
         "source": "ALI paper §4.5: 10 runs, random hyperparameters (min 1, max 22)"},
        {"model": "ALI", "modes_paper": "13.4 ± 5.8",
         "source": "ALI paper §4.5: 10 runs, random hyperparameters (min 8, max 25)"},
        {"model": "GAN", "modes": "17.3 ± 0.8", "high_quality": "94.8 %", "reverse_kl": "0.70",
         "source": "PacGAN Table 1"},
        {"model": "ALI (original networks)", "modes": "24.1 ± 0.4", "high_quality": "95.7 %",
         "reverse_kl": "0.14", "source": "PacGAN Table 1"},
        {"model": "PacGAN4", "modes": "24.8 ± 0.2", "high_quality": "93.6 %",
         "reverse_kl": "0.04", "source": "PacGAN Table 1"},
        {"model": "ALI (128-unit nets)", "modes": "15.8", "high_quality": "1.6 %",
         "source": "VEEGAN Table 1"},
        {"model": "VEEGAN", "modes": "24.6", "high_quality": "40 %", "source": "VEEGAN Table 1"},
        {"model": "GDPP-GAN", "modes": "24.8", "high_quality": "68.5 %",
         "source": "GDPP Table 1"},
    ],
    "ring8": [
        {"model": "GAN", "modes": "6.3", "high_quality": "98.2 %", "reverse_kl": "0.45",
         "source": "PacGAN Table 1"},
        {"model": "ALI (original networks)", "modes": "6.6", "high_quality": "97.6 %",
         "reverse_kl": "0.36", "source": "PacGAN Table 1"},
        {"model": "PacGAN4", "modes": "7.8", "high_quality": "95.9 %", "reverse_kl": "0.07",
         "source": "PacGAN Table 1"},
        {"model": "ALI (128-unit nets)", "modes": "2.8", "high_quality": "0.13 %",
         "source": "VEEGAN Table 1"},
        {"model": "VEEGAN", "modes": "8", "high_quality": "52.9 %", "source": "VEEGAN Table 1"},
        {"model": "GDPP-GAN", "modes": "8.0", "high_quality": "71.7 %",
         "source": "GDPP Table 1"},
    ],
}
# What samples from the data itself score (not a model's result): HQ = P(χ²₂ < 9).
CEILING = {"grid25": {"modes": "25", "high_quality": "98.9 %", "reverse_kl": "≈ 0.005"},
           "ring8": {"modes": "8", "high_quality": "98.9 %"}}
SIDE_BY_SIDE = ("modes_paper", "modes", "high_quality", "reverse_kl")
TERMINAL_HIDDEN = {"dropped_modes_paper"}  # K - modes_paper; in results.json and report.html


# --- the table ---------------------------------------------------------------------------------

def metric_names(results: CompareResults) -> list[str]:
    """Metrics any model reported: the known ones in a fixed order, then the rest sorted."""
    seen = {k for entry in results.models.values() for k in entry.metrics}
    # an evaluator that failed or scored nothing still gets its rows (of dashes)
    seen |= {m for ev in results.evaluators.values() if ev.note for m in ev.metrics}
    return [m for m in METRICS if m in seen] + sorted(seen - set(METRICS))


def cell(entry: ModelResult, metric: str) -> str:
    """``mean ± std`` of one model's metric, or a dash when the model was not scored on it."""
    value: Metric | None = entry.metrics.get(metric)
    if value is None:
        return DASH
    m, s = value.mean, value.std
    if m is None:
        return "diverged (NaN)"
    mean, std = METRICS.get(metric, (".4g", ".2g"))
    unit = " %" if mean == "%" else ""
    if len(value.values) == 1:  # one seed: a ± 0 would claim a spread never measured
        return _fmt(m, mean) + unit
    return f"{_fmt(m, mean)} ± {_fmt(s or 0.0, std)}{unit}"


# labels of the metrics no evaluator reports (the guided samplers add this one)
HOST_LABELS = {"acceptance_rate": "guided sampler: proposals accepted"}


def label(metric: str, results: CompareResults | None = None) -> str:
    """The readable name of ``metric``: its evaluator's declared label (as recorded in
    ``results``), else the bare name."""
    for ev in results.evaluators.values() if results else ():
        if metric in ev.labels:
            return str(ev.labels[metric])
    return HOST_LABELS.get(metric, metric)


def sample_count(results: CompareResults, metric: str) -> str:
    """`` (1,000 samples)`` after an Inception metric's label: FID falls as samples grow, so
    a FID is never shown without its count."""
    if metric not in ("fid", "kid"):
        return ""
    n = results.settings.get("eval_options", {}).get("fid_samples", DEFAULT_SAMPLES)
    try:
        return f" ({int(n):,} samples)"
    except (TypeError, ValueError):
        return ""


def table_rows(results: CompareResults, long_labels: bool = True
               ) -> tuple[list[str], list[list[str]]]:
    """Header and rows: a row per metric (plus training time), a column per model. Short
    labels are the bare metric names (for a terminal's width)."""
    models = list(results.models.values())
    header = ["metric", *results.models]
    names = metric_names(results)
    if not long_labels:  # the terminal table leaves out what another row already says
        names = [m for m in names if m not in TERMINAL_HIDDEN]
    rows = [[(f"{label(m, results)} [{m}]" if long_labels else m) + sample_count(results, m),
             *(cell(entry, m) for entry in models)] for m in names]
    rows.append(["training wall time" if long_labels else "train seconds",
                 *(f"{entry.seconds:.1f} s" for entry in models)])
    return header, rows


def rich_table(results: CompareResults) -> Table:
    from rich.table import Table

    seeds = results.settings.get("seeds", "?")
    header, rows = table_rows(results, long_labels=False)
    title = (f"{results.dataset}: one seed per model" if seeds == 1
             else f"{results.dataset}: mean ± std over {seeds} seeds")
    table = Table(title=title)
    for i, col in enumerate(header):
        table.add_column(col, justify="left" if i == 0 else "right", no_wrap=i == 0)
    for row in rows:
        table.add_row(*row)
    return table


# --- the figure --------------------------------------------------------------------------------

FIGURE_POINTS = 2_000  # points per panel of figure.png (one seed)


@dataclass
class FigureData:
    """One seed's points for the Figure 8 panels (CPU tensors: (n, 2) in x, (n, z_dim) in z)."""

    data: torch.Tensor  # held-out x
    component: torch.Tensor  # its mixture component (n,)
    samples: torch.Tensor | None = None  # x ~ p(x) from the model
    prior: torch.Tensor | None = None  # z ~ p(z), the model's sample_prior
    latent: torch.Tensor | None = None  # z ~ q(z|x) for the held-out x
    reconstruction: torch.Tensor | None = None  # G_x(G_z(x))
    prior_name: str = ""  # the model's prior_name, said under the q(z) panel


def figure_data(model: Model, dataset: Dataset, n: int = FIGURE_POINTS) -> FigureData:
    """The first seed's samples, latents and reconstructions for ``n`` held-out points."""
    x, component = heldout(dataset, eval_rng(model, 0, "heldout"), n)
    fig = FigureData(data=x[0], component=component[0] if component is not None
                     else torch.zeros(n, dtype=torch.long))
    rng = eval_rng(model, 0)
    with torch.no_grad():
        if model.can("sample"):
            fig.samples = model.sample(n, rng)[0].float().cpu()
        if model.can("encode"):
            z = model.encode(x.to(model.device), rng)
            fig.latent = z[0].float().cpu()
            fig.reconstruction = model.decode(z)[0].float().cpu()
            fig.prior = prior_draws(model, n, z, rng)[0]
            fig.prior_name = model.prior_name
    return fig


def _plane(points: torch.Tensor) -> Any:
    """The first two coordinates to plot, a 1-d z on the line y = 0."""
    p = points.numpy()
    return p[:, :2] if p.shape[1] >= 2 else np.concatenate([p, np.zeros_like(p)], 1)


def latent_caption(f: FigureData) -> str:
    """What the q(z) panel shows: the prior's name and which of z's coordinates."""
    assert f.latent is not None
    d = f.latent.shape[1]
    shown = {1: "z (1-d, on a line)", 2: "z (2-d)"}.get(d, f"z₁, z₂ of {d} dims")
    return f"p(z) = {f.prior_name or 'the prior'}; {shown}"

ROWS = ("samples (blue) over the data (grey)", "q(z) by component over p(z) (grey)",
        "reconstructions by input's component")


def save_figure(figures: dict[str, FigureData], dataset: Dataset, path: Path) -> None:
    """Figure 8's layout: a column per model, rows for samples, q(z) and reconstructions."""
    from genzoo.figures.plots import pyplot

    plt = pyplot()
    names = list(figures)
    fig, axes = plt.subplots(3, len(names), figsize=(3.2 * len(names), 9.6), squeeze=False)
    num_classes = max(dataset.spec.num_classes, 1)
    cmap = plt.get_cmap("hsv", num_classes + 1)  # +1: hsv wraps, keep first and last apart
    for col, name in enumerate(names):
        f = figures[name]
        data = f.data.numpy()
        span = max(float(abs(data).max()) * 1.25, 1e-3)
        colours = f.component.numpy()
        z_span = 4.0  # N(0, I)'s, kept when the prior is missing
        if f.prior is not None:
            z_span = max(float(abs(_plane(f.prior)).max()) * 1.1, 1e-3)
        panels = [
            (f.samples, data, (-span, span), None, "no sampler"),
            (f.latent, None if f.prior is None else _plane(f.prior), (-z_span, z_span),
             colours, "no encoder"),
            (f.reconstruction, data, (-span, span), colours, "no encoder"),
        ]
        for row, (points, background, lim, c, missing) in enumerate(panels):
            ax = axes[row][col]
            ax.set(xlim=lim, ylim=lim, aspect="equal", xticks=[], yticks=[])
            if row == 0:
                ax.set_title(name)
            if col == 0:
                ax.set_ylabel(ROWS[row], fontsize=8)
            if points is None:
                ax.text(0.5, 0.5, missing, ha="center", va="center", transform=ax.transAxes,
                        color="grey")
                continue
            if row == 1:
                ax.set_xlabel(latent_caption(f), fontsize=7)
            if background is not None:
                ax.scatter(background[:, 0], background[:, 1], s=2, c="0.8", linewidths=0)
            p = _plane(points)
            if c is None:
                ax.scatter(p[:, 0], p[:, 1], s=2, c="tab:blue", linewidths=0)
            else:
                ax.scatter(p[:, 0], p[:, 1], s=2, c=c, cmap=cmap, vmin=0,
                           vmax=num_classes, linewidths=0)
    fig.suptitle(f"{dataset.spec.name}: first seed of each model", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


# --- report.html -------------------------------------------------------------------------------

_CSS = """
body { font-family: sans-serif; max-width: 1200px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; font-size: 14px; }
th:first-child, td:first-child { text-align: left; }
tr.published td { background: #f4f4f4; font-style: italic; }
.holds { color: #070; } .fails { color: #a00; } .mixed { color: #a60; } .nm { color: #777; }
code, pre { background: #f6f6f6; }
"""


def _table_html(header: list[str], rows: list[list[str]], classes: list[str] | None = None
                ) -> str:
    e = html.escape
    out = ["<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>"]
    for i, row in enumerate(rows):
        cls = f' class="{classes[i]}"' if classes and classes[i] else ""
        out.append(f"<tr{cls}>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def side_by_side(results: CompareResults) -> tuple[list[str], list[list[str]], list[str]]:
    """Measured (this compare) and published rows over the metrics both protocols share."""
    header = ["", "model", *(label(m, results) for m in SIDE_BY_SIDE), "source"]
    rows = [["measured", name, *(cell(entry, m) for m in SIDE_BY_SIDE), "this compare"]
            for name, entry in results.models.items()]
    measured, dataset = len(rows), results.dataset
    if dataset in CEILING:
        c = CEILING[dataset]
        rows.append(["expected", "samples from the data itself",
                     *(c.get(m, DASH) for m in SIDE_BY_SIDE), "P(χ²₂ < 9); REFERENCE.md"])
    rows += [["published", pub["model"], *(pub.get(m, DASH) for m in SIDE_BY_SIDE), pub["source"]]
             for pub in PUBLISHED.get(dataset, [])]
    return header, rows, [""] * measured + ["published"] * (len(rows) - measured)


def _where(run: RunRecord) -> str:
    """The run directory, and which ranks trained which seeds when torchrun shared them."""
    if len(run.blocks) < 2:
        return run.dir
    parts = "; ".join((f"seed {b.seeds[0]}" if len(b.seeds) == 1 else
                       f"seeds {b.seeds[0]}–{b.seeds[-1]}") + f" on rank {b.rank}"
                      for b in run.blocks)
    return f"{run.dir}/seeds-*/ ({parts})"


def runs_table(results: CompareResults) -> str:
    """The HTML table of each model's run: times, steps, skipped and failed evaluators."""
    runs = []
    for name, entry in results.models.items():
        run = entry.run
        skipped = "; ".join(f"{k}: {v}" for k, v in run.skipped.items()) or "none"
        errors = "; ".join(f"{k}: {v}" for k, v in run.errors.items()) or "none"
        runs.append([name, f"{entry.seconds:.1f} s", f"{run.eval_seconds:.1f} s",
                     str(run.steps), str(run.batch_size),
                     "yes" if run.vectorized else "no (stacked)", skipped, errors, _where(run)])
    return _table_html(["model", "training", "evaluation", "steps", "batch", "vectorized",
                        "skipped evaluators", "errors", "run directory"], runs)


def figure_html(figure: Path) -> str:
    png = base64.b64encode(Path(figure).read_bytes()).decode("ascii")
    return f'<img alt="figure" src="data:image/png;base64,{png}" style="max-width:100%">'


def write_page(results: CompareResults, body: str, path: Path) -> None:
    """A self-contained report page: ``body`` under the title, then the runs and settings."""
    e = html.escape
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>genzoo compare: {e(results.dataset)}</title><style>{_CSS}</style></head><body>
<h1>genzoo compare on {e(results.dataset)}</h1>
{body}
<h2>Runs</h2>
{runs_table(results)}
<h2>Settings</h2>
<pre>{e(json.dumps(results.settings, indent=2, sort_keys=True))}</pre>
</body></html>
"""
    atomic_write_bytes(path, page.encode("utf-8"))


def write_html(results: CompareResults, figure: Path, path: Path) -> None:
    """A self-contained page: table, findings, figure (base64 PNG), published numbers,
    protocols and settings."""
    e = html.escape
    settings = results.settings
    header, rows = table_rows(results)
    verdict_class = {"holds": "holds", "does not hold": "fails", "mixed": "mixed"}
    finding_items = "\n".join(
        f'<li><b>{e(f.claim)}</b>: <span class="{verdict_class.get(f.verdict, "nm")}">'
        f"{e(f.verdict)}</span> — {e(f.evidence)}</li>" for f in results.findings)
    sb_header, sb_rows, sb_classes = side_by_side(results)
    write_page(results, f"""
<p>{e(str(settings.get('seeds', '?')))} seeds per model, preset
<code>{e(str(settings.get('preset', '')))}</code>, device
<code>{e(str(settings.get('device', '')))}</code>. Values are mean ± standard deviation over
seeds (population std); a dash means the model cannot be scored on that metric.</p>
<h2>Measured</h2>
{_table_html(header, rows)}
<h2>Does the paper's §4.5 hold here?</h2>
<p>Judged from the measured seed means above.</p>
<ul>{finding_items}</ul>
<h2>Figure 8 layout</h2>
<p>A column per model (its first seed); rows: samples over held-out data; q(z) coloured by
mixture component over draws of the model's prior p(z) (named under each panel, with the
coordinates shown); reconstructions coloured by their input's
component. Blank panels: the model cannot do that.</p>
{figure_html(figure)}
<h2>Measured next to published</h2>
<p>Grey rows are <b>published</b> numbers (REFERENCE.md), not measured here. Published ± is
the standard error over 10 trials (PacGAN) or as printed (ALI paper); measured ± is the
standard deviation over seeds.</p>
{_table_html(sb_header, sb_rows, sb_classes)}
<h2>Protocols</h2>
<ul>
<li><b>paper protocol</b> (ALI §4.5): 10,000 samples, each assigned to the component of highest
responsibility (the nearest mean); <code>modes_paper</code> counts components with at least one
sample.</li>
<li><b>PacGAN/VEEGAN protocol</b>: 2,500 samples; a sample is high quality within 3σ of its
nearest mean; <code>modes</code> counts components holding a high-quality sample;
<code>high_quality</code> is their fraction; <code>reverse_kl</code> is Σ p log(p K) over the
histogram of high-quality samples (log K when none is high quality).</li>
<li><b>inference</b>: 10,000 held-out points; <code>latent_match</code> is the unbiased energy
distance between their encodings and draws of the model's prior p(z), N(0, I) for the
bundled models (0 when q(z) = p(z)); <code>latent_recall</code> the share of draws of p(z)
inside some encoding's ball to its third-nearest encoding (Kynkäänniemi et al. 2019): how much
of p(z) q(z) covers (a second draw of p(z) itself: about 97 %);
<code>reconstruction_error</code> the mean squared distance ‖x − G_x(G_z(x))‖²;
<code>reconstruction_mode_accuracy</code> the fraction reconstructed within 3σ of their own
component's mean.</li>
</ul>
""", path)
