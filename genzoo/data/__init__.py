"""Datasets: toy mixtures sampled on the fly, image datasets decoded once and indexed."""

from genzoo.data.base import Dataset, Mixture
from genzoo.data.toy import GaussianMixture, grid25, ring8

__all__ = ["Dataset", "Mixture", "GaussianMixture", "grid25", "ring8"]
