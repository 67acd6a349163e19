"""The core: hooks, the plugin manager, registries, the Model interface and its capabilities,
configs, conditions, per-seed random streams and guided sampling. Imports nothing above it."""
