"""Independent jobs shared out over torchrun's ranks (``genzoo compare`` under torchrun).

Unlike ``genzoo train``'s data parallelism (``genzoo.training.distributed``), no gradient
crosses ranks here: each rank trains and scores its own jobs as a single process would, and
the ranks exchange only small Python objects (rank 0's ``--out``, whether each rank found it
valid, what each job measured) through a gloo process group's object collectives. Failures are
carried by torchrun and torch.distributed, not by a protocol of genzoo's:

- a rank whose own work fails prints one line naming itself (``error: rank 1 failed: ...``)
  and exits; torchrun then stops the others (SIGTERM: a training loop saves a checkpoint at
  its step, so ``--resume`` continues) and prints its report, whose root cause is that rank
  and its exit code. A rank stopped that way, or whose collective lost a peer, exits without
  a line of its own, so the user reads the failure once.
- a rank whose process dies prints nothing; torchrun's report names it and its exit code.
- ranks that all refuse the same ``--out`` (validation) say it once, through rank 0.
- a collective waits as long as a peer trains (``WAIT``), not a fixed deadline: a dead peer
  is seen by torchrun (its process exited) or by gloo (its connection closed), not by a
  timeout. A peer alive but stuck in a loop of its own is not detected.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, TypeVar

import torch.distributed as dist

from genzoo.core.errors import GenzooError, ReportedElsewhere
from genzoo.training.distributed import MASTER_HINT

WAIT = timedelta(days=7)  # a collective's own deadline: longer than any job

T = TypeVar("T")


class PeerLost(ReportedElsewhere):
    """A collective failed because another rank left: torchrun reports that rank."""


def split(n: int, parts: int) -> list[range]:
    """``range(n)`` in ``parts`` contiguous blocks whose sizes differ by at most one."""
    size, extra = divmod(n, parts)  # the first ``extra`` blocks hold one more
    return [range(i * size + min(i, extra), (i + 1) * size + min(i + 1, extra))
            for i in range(parts)]


def assign(costs: Sequence[float], world: int) -> list[int]:
    """The rank of each job: in order, to the rank with the least cost so far (the lowest
    rank on ties), so equal jobs deal out round-robin and rank 0 gets the first."""
    load = [0.0] * world
    ranks = []
    for cost in costs:
        r = min(range(world), key=lambda i: (load[i], i))
        load[r] += cost
        ranks.append(r)
    return ranks


class Ranks:
    """This process's place among the ranks, and the object collectives between them."""

    def __init__(self) -> None:
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def broadcast(self, obj: T) -> T:
        """Rank 0's ``obj``, on every rank."""
        box = [obj]
        self._call(dist.broadcast_object_list, box, src=0)
        return box[0]

    def gather(self, obj: T) -> list[T] | None:
        """Every rank's ``obj`` in rank order, on rank 0; None elsewhere."""
        out: list[Any] | None = [None] * self.world_size if self.is_main else None
        self._call(dist.gather_object, obj, out, dst=0)
        return out

    def all_refuse(self, error: GenzooError | None) -> None:
        """After every rank checked the same thing: raise the first rank's refusal, on rank 0
        as itself and elsewhere quietly; return when no rank refused."""
        box: list[Any] = [None] * self.world_size
        self._call(dist.all_gather_object, box, None if error is None else str(error))
        first = next((reason for reason in box if reason is not None), None)
        if first is None:
            return
        if self.is_main:
            raise error if error is not None else GenzooError(first)
        raise ReportedElsewhere(first)

    def fail(self, exc: Exception) -> GenzooError:
        """This rank's own failure, as the one line that names it."""
        if isinstance(exc, OSError) and exc.strerror:  # the disk or a path, not a bug
            where = f" ({exc.filename})" if exc.filename else ""
            return GenzooError(f"rank {self.rank} failed: {exc.strerror}{where}")
        reason = (str(exc) if isinstance(exc, GenzooError) else
                  f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for the "
                  f"traceback)")
        return GenzooError(f"rank {self.rank} failed: {reason}")

    @staticmethod
    def _call(collective: Any, *args: Any, **kwargs: Any) -> None:
        try:
            collective(*args, **kwargs)
        except RuntimeError as exc:  # gloo: a peer's connection closed (torchrun reports it)
            raise PeerLost(f"lost another rank ({exc})") from exc


@contextmanager
def ranks() -> Iterator[Ranks]:
    """Join this torchrun job's ranks in a gloo group (objects only: CPU, any device), and
    leave it together when the block ends without an error."""
    if not dist.is_available():
        raise GenzooError("this torch build has no torch.distributed; run without torchrun")
    try:
        dist.init_process_group("gloo", timeout=WAIT)
    except ValueError as exc:  # env:// without MASTER_ADDR / MASTER_PORT
        raise GenzooError(f"{MASTER_HINT} ({exc})") from None
    ok = False
    try:
        yield Ranks()
        ok = True
    finally:
        try:
            if ok:  # a rank leaving while its peer is inside a collective aborts the peer
                Ranks._call(dist.barrier)  # a peer that failed instead: quiet, torchrun says
        finally:
            dist.destroy_process_group()
