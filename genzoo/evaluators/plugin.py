"""The host's own evaluators, registered through the same hook as any plugin's."""

from genzoo.evaluators.inference import InferenceQuality
from genzoo.evaluators.mode_coverage import ModeCoverage
from genzoo.hookspecs import hookimpl
from genzoo.registry import EvaluatorRegistry


@hookimpl
def genzoo_register_evaluators(evaluators: EvaluatorRegistry) -> None:
    evaluators.add(ModeCoverage)
    evaluators.add(InferenceQuality)
