"""Evaluators: metrics computed on a model through its capabilities, never its internals."""

from genzoo.evaluators.base import EvalResult, Evaluator, check_options, eval_rng, heldout

__all__ = ["EvalResult", "Evaluator", "check_options", "eval_rng", "heldout"]
