"""A compare's files: results.json, figure.png and report.html."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from genzoo.core.atomic import atomic_write_bytes
from genzoo.core.registry import Registry
from genzoo.reports.results import CompareResults


def write_outputs(results: CompareResults, figures: dict[str, Any], out: Path,
                  registry: Registry) -> dict[str, Path]:
    """Write results.json, figure.png and report.html into ``out``; return their paths."""
    from genzoo.reports import findings
    from genzoo.reports import images as report_images
    from genzoo.reports import toy as report

    image = results.kind == "image"
    if not image:  # §4.5's findings and the published toy numbers are about the mixtures
        dataset = registry.dataset(results.dataset)
        mixture = dataset.mixture()
        results.findings = findings.paper_findings(
            results, 0 if mixture is None else len(mixture.means))
    results.published = {"note": "published numbers (REFERENCE.md), not measured here",
                         "rows": (report_images.PUBLISHED if image else report.PUBLISHED
                                  ).get(results.dataset, [])}
    paths = {"results": out / "results.json", "figure": out / "figure.png",
             "report": out / "report.html"}
    # not sorted: models stay in the order they were named (the table's column order)
    text = json.dumps(results.to_json(), indent=2, allow_nan=False) + "\n"
    atomic_write_bytes(paths["results"], text.encode())
    if image:
        report_images.save_figure(figures, paths["figure"])
        report_images.write_html(results, paths["figure"], paths["report"])
    else:
        report.save_figure(figures, dataset, paths["figure"])
        report.write_html(results, paths["figure"], paths["report"])
    return paths
