"""Independent jobs shared out over torchrun's ranks (``genzoo compare`` under torchrun).

Unlike ``genzoo train``'s data parallelism (``genzoo.training.distributed``), no gradient
crosses ranks here: each rank trains and scores its own jobs as a single process would, and
the ranks exchange only small Python objects (what each job measured). They exchange them
through the c10d store of torchrun's rendezvous (``torch.distributed.rendezvous("env://")``),
not through a process group's collectives, because a collective can only wait or time out: a
rank waiting for a peer that trains for another hour could not tell it from a dead one. A
rank waiting on the store watches two more things:

- the ``failed`` key, which a rank that fails sets to its error (the first failure wins).
  Every other rank stops: a daemon thread sends its main thread a SIGINT, which a training
  loop takes as Ctrl-C (it stops after the current step) and which, outside training, only
  marks the failure for the main thread to find before its next job or in its next wait; the
  compare ends with one line, printed by rank 0, that names the failed rank and its error.
- every peer's heartbeat, a counter its daemon thread bumps every second. A peer whose
  counter has not moved for ``GENZOO_RANK_TIMEOUT`` seconds (default 120) while its answer
  is awaited has died or lost its connection, and the wait ends with that line instead of
  hanging. (A rank whose process dies is noticed sooner by torchrun itself, which stops the
  others.) The heartbeat says the process lives, not that it progresses: a job stuck in a
  loop of its own is not detected.
"""

from __future__ import annotations

import _thread
import atexit
import os
import pickle
import signal
import threading
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import torch.distributed as dist

from genzoo.core.errors import GenzooError

HEARTBEAT_S = 1.0  # how often each rank bumps its counter and looks for a failure
POLL_S = 0.05  # how often a waiting rank looks at the store
DEFAULT_TIMEOUT_S = 120.0
ACK_S = 30.0  # how long a failed rank waits for rank 0 to have said so before it exits


def rank_timeout() -> float:
    """``GENZOO_RANK_TIMEOUT`` seconds, or the default: how long a silent peer is waited for."""
    raw = os.environ.get("GENZOO_RANK_TIMEOUT", "")
    try:
        value = float(raw) if raw else DEFAULT_TIMEOUT_S
    except ValueError:
        raise GenzooError(f"GENZOO_RANK_TIMEOUT must be a number of seconds, not {raw!r}"
                          ) from None
    if value <= 0:
        raise GenzooError(f"GENZOO_RANK_TIMEOUT must be positive, not {raw!r}")
    return value


class Terminated(KeyboardInterrupt):
    """SIGTERM outside training (during it, the trainer stops after its step): torchrun
    stopping this rank because another one exited."""


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated()


class StoreLost(GenzooError):
    """The store (hosted by torchrun's agent or by rank 0) is gone: nobody else can report."""


class RankFailed(GenzooError):
    """Another rank failed or went silent; ``rank`` names it and ``reason`` says why."""

    def __init__(self, rank: int, reason: str):
        super().__init__(f"rank {rank} failed: {reason}")
        self.rank, self.reason = rank, reason


def split(n: int, parts: int) -> list[range]:
    """``range(n)`` in ``parts`` contiguous blocks whose sizes differ by at most one."""
    size, extra = divmod(n, parts)
    blocks, start = [], 0
    for i in range(parts):
        stop = start + size + (1 if i < extra else 0)
        blocks.append(range(start, stop))
        start = stop
    return blocks


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


class Shards:
    """This process's place among the ranks, and the exchanges between them."""

    def __init__(self, store: Any, rank: int, world_size: int, timeout_s: float):
        self.rank, self.world_size, self.timeout_s = rank, world_size, timeout_s
        self._store = store
        self._failed_here = False  # this rank set "failed": it does not interrupt itself
        self._peer_failed = False  # seen by the heartbeat thread, which then sent a SIGINT
        self._closed = threading.Event()
        self._handlers: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            # SIGTERM (torchrun stopping this rank) raises; the heartbeat's SIGINT only marks
            # the failure outside training (inside, the trainer's own handler stops it)
            self._handlers = {signal.SIGTERM: signal.signal(signal.SIGTERM, _terminate),
                              signal.SIGINT: signal.signal(signal.SIGINT, self._on_sigint)}
        self._beats = threading.Thread(target=self._beat, name="genzoo-heartbeat", daemon=True)
        self._beats.start()
        if self.is_main:  # after the CLI's last line: a failed peer may exit now
            atexit.register(self._farewell)

    @classmethod
    def join(cls) -> Shards:
        """Meet the other ranks of this torchrun job (RANK, WORLD_SIZE, MASTER_ADDR and
        MASTER_PORT from the environment)."""
        timeout = rank_timeout()
        try:
            store, rank, world = next(dist.rendezvous("env://",
                                                      timeout=timedelta(seconds=timeout)))
        except (RuntimeError, ValueError) as exc:
            raise GenzooError(f"could not meet the other ranks within {timeout:.0f} s "
                              f"({exc}); start the compare with torchrun") from None
        # one namespace per job and restart: torchrun's own keys live in the same store
        prefix = (f"genzoo-shards/{os.environ.get('TORCHELASTIC_RUN_ID', 'none')}/"
                  f"{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}/")
        return cls(dist.PrefixStore(prefix, store), rank, world, timeout)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    # --- exchanges ---------------------------------------------------------------------------

    def exchange(self, tag: str, obj: Any) -> list[Any]:
        """Every rank's ``obj`` for ``tag``, in rank order (each rank calls it once per tag)."""
        self.post(tag, obj)
        return self.collect(tag)

    def post(self, tag: str, obj: Any) -> None:
        """Leave ``obj`` for rank 0's ``collect(tag)``; returns at once."""
        self._store.set(f"{tag}/{self.rank}", pickle.dumps(obj))

    def collect(self, tag: str) -> list[Any]:
        """Rank 0: every rank's posted ``obj`` for ``tag`` (its own included), in rank order."""
        keys = [f"{tag}/{r}" for r in range(self.world_size)]
        self._wait(keys)
        return [pickle.loads(self._store.get(k)) for k in keys]

    # --- failure -----------------------------------------------------------------------------

    def fail(self, reason: str) -> None:
        """Tell every rank this one failed; the first failure is the one reported. A rank
        other than 0 then waits (up to ``ACK_S``) for rank 0 to have printed it and exited,
        because torchrun stops the other ranks as soon as one exits."""
        self._failed_here = True
        ignoring = (signal.signal(signal.SIGTERM, signal.SIG_IGN)
                    if not self.is_main and signal.SIGTERM in self._handlers else None)
        try:  # torchrun's SIGTERM, once rank 0 has exited, must not print a line here
            self._store.compare_set("failed", "", pickle.dumps((self.rank, reason)))
            if not self.is_main:
                deadline = time.monotonic() + ACK_S
                while time.monotonic() < deadline and not self._store.check(["farewell"]):
                    time.sleep(POLL_S)
        except Exception:  # noqa: BLE001 - the store is gone with rank 0: it has exited
            pass
        finally:
            if ignoring is not None:
                signal.signal(signal.SIGTERM, ignoring)

    def failure(self) -> RankFailed | None:
        """The first failure any rank reported, if one did."""
        if not self._store.check(["failed"]):
            return None
        rank, reason = pickle.loads(self._store.get("failed"))
        return RankFailed(rank, reason)

    def _farewell(self) -> None:
        """Rank 0, at exit (its error line printed): a failed rank waiting in fail() may go."""
        try:
            self._store.set("farewell", b"1")
        except Exception:  # noqa: BLE001 - nobody is left to tell
            pass

    def silent_peers(self, done_tag: str, window_s: float = 2 * HEARTBEAT_S + 0.5
                     ) -> list[int]:
        """The other ranks, not done (no ``done_tag`` posted), whose heartbeat does not move
        over ``window_s``: those whose process died (asked after torchrun stopped this one)."""
        try:
            peers = [r for r in range(self.world_size)
                     if r != self.rank and not self._store.check([f"{done_tag}/{r}"])]
            before = {r: self._store.add(f"beat/{r}", 0) for r in peers}
            time.sleep(window_s)
            return [r for r in peers if self._store.add(f"beat/{r}", 0) == before[r]]
        except Exception:  # noqa: BLE001 - the store went with its host: no one to ask
            return []

    def close(self) -> None:
        """Stop the heartbeat (no SIGINT comes after this) and restore the signal handlers."""
        self._closed.set()
        self._beats.join(timeout=10 * HEARTBEAT_S)
        for signum, handler in self._handlers.items():
            signal.signal(signum, handler)
        self._handlers = {}

    # --- waiting -----------------------------------------------------------------------------

    def _wait(self, keys: list[str]) -> None:
        """Until every key exists; raises RankFailed when a rank fails or falls silent."""
        seen: dict[int, tuple[int, float]] = {}
        try:
            while not self._store.check(keys):
                failed = self.failure()
                if failed is not None:
                    raise failed
                now = time.monotonic()
                for r, key in enumerate(keys):
                    if r == self.rank or self._store.check([key]):
                        continue
                    beat = self._store.add(f"beat/{r}", 0)
                    last = seen.get(r)
                    if last is None or last[0] != beat:
                        seen[r] = (beat, now)
                    elif now - last[1] > self.timeout_s:
                        raise RankFailed(r, f"its heartbeat stopped {self.timeout_s:.0f} s ago "
                                            f"(the process died or lost its connection; "
                                            f"GENZOO_RANK_TIMEOUT sets how long to wait)")
                time.sleep(POLL_S)
        except KeyboardInterrupt:  # Ctrl-C while waiting: a peer's failure, if any, comes first
            failed = self.failure()
            if failed is None:
                raise
            raise failed from None
        except RuntimeError as exc:  # torch's DistStoreError: the store's host is gone
            raise StoreLost(f"lost the other ranks: the store went away ({exc})") from None

    def _on_sigint(self, signum: int, frame: Any) -> None:
        if self._peer_failed:
            return  # the heartbeat's: the main thread finds the failure before its next job
        signal.default_int_handler(signum, frame)  # Ctrl-C: KeyboardInterrupt, as usual

    def _beat(self) -> None:
        while not self._closed.wait(HEARTBEAT_S):
            try:
                self._store.add(f"beat/{self.rank}", 1)
                if not self._failed_here and not self._peer_failed and \
                        self._store.check(["failed"]):
                    self._peer_failed = True  # first: the SIGINT handler reads it
                    if not self._closed.is_set():
                        _thread.interrupt_main(signal.SIGINT)  # stops training after its step
            except Exception:  # noqa: BLE001 - a store hiccup: beat again next time; a
                continue  # store gone for good shows in the main thread's next wait
