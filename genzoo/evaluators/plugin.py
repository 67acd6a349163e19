"""The host's own evaluators, registered through the same hook as any plugin's."""

from genzoo.core.hookspecs import hookimpl
from genzoo.core.registry import EvaluatorRegistry
from genzoo.evaluators.classes import ClassAgreement, ClassifierScore
from genzoo.evaluators.classification import Classification
from genzoo.evaluators.fid import FID, KID
from genzoo.evaluators.inference import InferenceQuality
from genzoo.evaluators.interpolation import Interpolation
from genzoo.evaluators.mode_coverage import ModeCoverage
from genzoo.evaluators.reconstruction import Reconstruction
from genzoo.evaluators.svm_features import SVMFeatures


@hookimpl
def genzoo_register_evaluators(evaluators: EvaluatorRegistry) -> None:
    evaluators.add(ModeCoverage)
    evaluators.add(InferenceQuality)
    evaluators.add(FID)
    evaluators.add(KID)
    evaluators.add(Reconstruction)
    evaluators.add(Interpolation)
    evaluators.add(SVMFeatures)
    evaluators.add(Classification)
    evaluators.add(ClassAgreement)
    evaluators.add(ClassifierScore)
