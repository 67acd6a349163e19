"""`genzoo compare`: train several models for N seeds each, score them all, write a report.

For every named model: one replicated model holds all N seeds (a vectorized model trains them
as one computation, any other model is stacked), the one Trainer trains it into
``OUT/runs/NAME`` (so ``genzoo evaluate OUT/runs/NAME`` works later; each block of a model
split over torchrun's ranks is ``OUT/runs/NAME/seeds-A-B``), and the evaluators score every
seed. Then ``OUT`` gets ``results.json``, ``figure.png`` and ``report.html``.

On a toy mixture: 10 seeds by default, every registered evaluator that applies, and the
figure in the layout of the paper's Figure 8. On an image dataset: 1 seed by default (an
image model trains for minutes to hours, not seconds), the evaluators of ``IMAGE_METRICS``
that are registered (``--metric`` chooses others), and a figure of samples and
reconstructions (``genzoo.reports.images``). Either way ``--metric`` restricts the evaluators.
An evaluator that fails (FID without Inception weights, say) costs only its own rows: dashes
and a one-line note, never the compare.

Under torchrun the compare is cut into the (model, seed block) jobs of ``plan``, which the
ranks share out (``genzoo.training.shards``); rank 0 merges what they measured, seed by seed,
into the same results a single process would summarise.
"""

from genzoo.compare.outputs import write_outputs
from genzoo.compare.results import concat_blocks
from genzoo.compare.run import run_compare
from genzoo.compare.settings import (
    CPU_FID_SAMPLES,
    IMAGE_SEEDS,
    SETTINGS_FILE,
    TOY_SEEDS,
    CompareSettings,
    default_out,
    load_settings,
    parse_sets,
    plan,
)

__all__ = ["CPU_FID_SAMPLES", "IMAGE_SEEDS", "SETTINGS_FILE", "TOY_SEEDS", "CompareSettings",
           "concat_blocks", "default_out", "load_settings", "parse_sets", "plan", "run_compare",
           "write_outputs"]
