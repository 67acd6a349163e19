"""``genzoo train``'s settings: the one table of their defaults (the CLI, config files and
the API read them from here). No torch: the command line imports it before torch."""

from __future__ import annotations

from dataclasses import dataclass

from genzoo.core.errors import GenzooError

PRECISIONS = ("fp32", "tf32", "bf16")


@dataclass
class TrainSettings:
    steps: int = 5000  # optimisation steps (each model defines what one step updates)
    batch_size: int = 100  # examples per step, per seed
    log_every: int = 100  # steps between metrics.jsonl records (and progress-bar refreshes)
    # steps between checkpoints; image runs also write one at the end of every epoch; a final
    # one is always written (0: the final one only)
    checkpoint_every: int = 1000
    # and one whenever this many minutes have passed since the last (0: off), so that a long
    # image epoch is never lost whole; single-process runs only (ranks would disagree on when)
    checkpoint_minutes: float = 5.0
    keep_checkpoints: int = 2  # older checkpoints are deleted once a newer one is complete
    # fp32; tf32: on a CUDA GPU, matrix products and convolutions on TensorFloat-32 units
    # (fp32 keeps them off on CUDA, whatever torch's own default); or bf16: train steps under
    # bfloat16 autocast (convolutions and matrix products in bfloat16; weights, optimizer state
    # and losses in fp32), image data only: Table 4's step ran 1.7x faster than fp32 on a
    # 2-core CPU with AVX512-BF16 (bench/image_throughput.py)
    precision: str = "fp32"
    # TensorBoard event files in RUN/tensorboard (genzoo.training.tblog): scalars, grids, scatters
    tensorboard: bool = True

    def validate(self) -> None:
        for name in ("steps", "batch_size", "log_every"):
            if getattr(self, name) <= 0:
                raise GenzooError(f"--{name.replace('_', '-')} must be a positive integer, "
                                  f"got {getattr(self, name)}")
        if self.precision not in PRECISIONS:
            raise GenzooError(f"--precision must be one of {', '.join(PRECISIONS)}, got "
                              f"{self.precision!r}")
        if self.checkpoint_every < 0:
            raise GenzooError("--checkpoint-every must be 0 (final only) or positive")
        if not self.checkpoint_minutes >= 0:
            raise GenzooError(f"--checkpoint-minutes must be 0 (off) or positive, got "
                              f"{self.checkpoint_minutes}")
