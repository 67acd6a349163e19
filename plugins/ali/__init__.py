"""Adversarially Learned Inference (Dumoulin et al. 2016)."""
