"""Training: the one training loop, run directories and their checkpoints, locks, torchrun,
memory checks, per-epoch snapshots and TensorBoard logs. Imports only core, data and figures."""
