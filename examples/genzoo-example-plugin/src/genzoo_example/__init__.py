"""An example third-party genzoo plugin: a diagonal Gaussian model and a mean-error metric."""

__version__ = "0.1.0"
