"""Bundled genzoo plugins; each subpackage is loaded through its own entry point."""
