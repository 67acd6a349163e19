"""Evaluators: metrics computed on a model through its capabilities, never its internals."""

from genzoo.evaluators.base import EvalResult, Evaluator

__all__ = ["EvalResult", "Evaluator"]
