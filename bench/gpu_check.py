"""The GPU path, checked in one command: `genzoo train ali --dataset svhn` as its users run it.

Everything runs offline on SVHN-format files written on the spot (``train_32x32.mat`` /
``test_32x32.mat`` of uniform random pixels and labels, by ``bench/synthetic_svhn.py``: the
plumbing, speed and numerics are checked, not what the model learns). The commands run as
subprocesses, as a user types them; the throughput runs in this process to read the GPU's
peak memory. Checks, one row each in the table printed at the end:

- train: ``genzoo train ali --dataset svhn --preset paper --device DEV``: exits 0, losses
  finite, checkpoints written.
- resume: the same run killed (SIGKILL) after its first checkpoint and continued with
  ``--resume``: final weights against the uninterrupted run's. Both run with
  ``torch.use_deterministic_algorithms(True)`` and ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` (what
  CUDA needs for repeatable kernels), so bit-identical is required on every device.
- cross-device: the DEV run samples and evaluates on the CPU; a CPU run samples on DEV.
- evaluate: ``genzoo evaluate RUN --metric fid --metric reconstruction --metric svm-features``
  on DEV; then FID of the same samples on DEV and on the CPU (``genzoo fid``, separate
  statistics caches), within 1e-3 relative.
- throughput: images/s of genzoo's Table 4 step in fp32, tf32 (CUDA) and bf16 beside a plain
  eager PyTorch loop of the same networks on DEV (``bench/image_throughput.py``), genzoo's
  fp32 >= 1.5x the loop's on a GPU; peak GPU memory of each.
- compare: ``genzoo compare ali gan vae --toy grid25 --device DEV`` finishes; on a GPU, every
  metric's mean within the seed spread (2 x the larger std, at least 0.02 of the mean) of the
  same compare on the CPU, and both wall times.
- torchrun: ``torchrun --nproc-per-node 1 -m genzoo train ...`` and ``... compare ...`` on DEV.

Exits 1 if any check fails. ``--tiny`` (what ``tests/test_gpu_check.py`` runs on a CPU, so the
script cannot rot) shrinks every size; on one GPU the full script is sized for <= 8 minutes.

    .venv/bin/python bench/gpu_check.py                       # on a GPU machine
    .venv/bin/python bench/gpu_check.py --device cpu --tiny   # the CPU rehearsal (~2 min)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

CHECKS = ("train", "resume", "cross-device", "evaluate", "fid-devices", "throughput",
          "compare", "torchrun")
NEEDS_RUN = {"resume", "cross-device", "evaluate", "fid-devices"}  # the train check's run
# genzoo's CLI with repeatable kernels: what a GPU needs for a bit-exact resume
DETERMINISTIC = ("import sys, torch; torch.use_deterministic_algorithms(True); "
                 "from genzoo.cli.app import main; sys.argv[0] = 'genzoo'; sys.exit(main())")


@dataclass
class Sizes:
    train: int  # synthetic training images
    steps: int  # steps of the svhn runs
    batch: int
    every: int  # checkpoint cadence of the resume check
    fid: int  # samples (and reference images) of the FID checks
    throughput_steps: int
    toy_steps: int | None  # None: the compare's own default
    tiny: bool  # the CPU rehearsal: timings are reported, not judged
    toy_seeds: int | None

    @classmethod
    def of(cls, tiny: bool) -> Sizes:
        if tiny:
            return cls(train=256, steps=6, batch=16, every=2, fid=24, throughput_steps=2,
                       toy_steps=20, toy_seeds=2, tiny=True)
        return cls(train=20_000, steps=300, batch=100, every=100, fid=2_000,
                   throughput_steps=50, toy_steps=None, toy_seeds=None, tiny=False)


@dataclass
class Report:
    rows: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, name: str, ok: bool | None, detail: str) -> None:
        """ok None: measured, no pass/fail."""
        self.rows.append((name, {True: "ok", False: "FAIL", None: "-"}[ok], detail))
        print(f"[{self.rows[-1][1]:>4}] {name}: {detail}", flush=True)

    def run(self, name: str, check: Callable[[], tuple[bool | None, str]]) -> None:
        started = time.perf_counter()
        try:
            ok, detail = check()
        except Exception as exc:  # noqa: BLE001 - one row per failed check, then go on
            traceback.print_exc()
            lines = str(exc).strip().splitlines() or [""]
            ok, detail = False, f"{type(exc).__name__}: {lines[-1]}"
        self.add(name, ok, f"{detail} [{time.perf_counter() - started:.0f} s]")

    @property
    def failed(self) -> bool:
        return any(status == "FAIL" for _, status, _ in self.rows)

    def table(self) -> str:
        width = max(len(n) for n, _, _ in self.rows)
        return "\n".join(f"{n:<{width}}  {s:>4}  {d}" for n, s, d in self.rows)


class Shell:
    """Runs genzoo's commands in subprocesses, with this bench's cache and a log per call."""

    def __init__(self, root: Path, device: str):
        self.root, self.device, self.calls = root, device, 0
        self.env = dict(os.environ, GENZOO_CACHE=str(root / "cache"),
                        CUBLAS_WORKSPACE_CONFIG=":4096:8")

    def argv(self, *args: str, deterministic: bool = False) -> list[str]:
        if deterministic:
            return [sys.executable, "-c", DETERMINISTIC, *args]
        return [sys.executable, "-m", "genzoo", *args]

    def __call__(self, *args: str, deterministic: bool = False, env: dict | None = None,
                 timeout: float = 600) -> tuple[str, float]:
        self.calls += 1
        log = self.root / f"call-{self.calls:02d}.log"
        started = time.perf_counter()
        with log.open("w") as f:
            done = subprocess.run(self.argv(*args, deterministic=deterministic), stdout=f,
                                  stderr=subprocess.STDOUT, env={**self.env, **(env or {})},
                                  timeout=timeout)
        seconds = time.perf_counter() - started
        out = log.read_text()
        if done.returncode != 0:
            tail = out.strip().splitlines()[-1:] or ["no output"]
            raise RuntimeError(f"`genzoo {' '.join(args[:3])} ...` exited {done.returncode}: "
                               f"{tail[0]} (log: {log})")
        return out, seconds


def _final_weights(run: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    last = sorted((run / "checkpoints").glob("step-*.safetensors"))[-1]
    return {k: v for k, v in load_file(last).items() if k.startswith("model/")}


def _losses_finite(run: Path) -> tuple[bool, str]:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    losses = [v for r in records for k, v in r.items() if k.startswith("loss")]
    ok = bool(losses) and all(math.isfinite(v) for v in losses)
    return ok, f"step {records[-1]['step']}, {len(losses)} loss values, " \
               f"{'all finite' if ok else 'NOT FINITE'}"


def _train_args(sz: Sizes, data: Path, out: Path, device: str, steps: int | None = None
                ) -> list[str]:
    return ["train", "ali", "--dataset", "svhn", "--data-dir", str(data), "--no-verify",
            "--preset", "paper", "--device", device, "--steps", str(steps or sz.steps),
            "--batch-size", str(sz.batch), "--checkpoint-every", str(sz.every),
            "--out", str(out), "--no-progress", "--no-tensorboard"]


def check_train(sh: Shell, sz: Sizes, data: Path, run: Path) -> tuple[bool, str]:
    _, seconds = sh(*_train_args(sz, data, run, sh.device), deterministic=True)
    ok, detail = _losses_finite(run)
    checkpoints = len(list((run / "checkpoints").glob("step-*.safetensors")))
    return ok and checkpoints > 0, f"{detail}; {checkpoints} checkpoint(s); {seconds:.1f} s"


def check_resume(sh: Shell, sz: Sizes, data: Path, whole: Path) -> tuple[bool, str]:
    run = sh.root / "killed"
    argv = sh.argv(*_train_args(sz, data, run, sh.device), deterministic=True)
    with (sh.root / "killed.log").open("w") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=sh.env)
        deadline = time.monotonic() + 600
        while proc.poll() is None and time.monotonic() < deadline:
            if list((run / "checkpoints").glob("step-*.json")):
                break
            time.sleep(0.02)
        killed = proc.poll() is None
        if killed:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
    step = max((int(p.stem.split("-")[1]) for p in (run / "checkpoints").glob("step-*.json")),
               default=0)
    sh("train", "--resume", str(run), "--device", sh.device, "--no-progress",
       deterministic=True)
    a, b = _final_weights(whole), _final_weights(run)
    worst = max(float(np.max(np.abs(a[k].astype(np.float64) - b[k]))) for k in a)
    same = a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    how = f"killed after step {step}" if killed else "finished before the kill (no check)"
    return same and killed, f"{how}; resumed to {sz.steps}: " + \
        ("bit-identical to the uninterrupted run" if same else f"max |diff| {worst:.3g}")


def check_cross_device(sh: Shell, sz: Sizes, data: Path, run: Path) -> tuple[bool, str]:
    sh("sample", str(run), "-n", "16", "-o", str(sh.root / "on-cpu.npy"), "--device", "cpu")
    sh("evaluate", str(run), "--metric", "reconstruction", "--device", "cpu")
    cpu_run = sh.root / "cpu-run"
    sh(*_train_args(sz, data, cpu_run, "cpu", steps=2))
    sh("sample", str(cpu_run), "-n", "16", "-o", str(sh.root / "from-cpu.npy"),
       "--device", sh.device)
    arrays = [np.load(sh.root / n) for n in ("on-cpu.npy", "from-cpu.npy")]
    ok = all(a.shape[-3:] == (3, 32, 32) and np.isfinite(a).all() for a in arrays)
    return ok, (f"{sh.device} run sampled and evaluated on cpu; cpu run sampled on "
                f"{sh.device}; shapes {arrays[0].shape}")


def check_evaluate(sh: Shell, sz: Sizes, run: Path) -> tuple[bool, str]:
    _, seconds = sh("evaluate", str(run), "--metric", "fid", "--metric", "reconstruction",
                    "--metric", "svm-features", "--device", sh.device, "--draws", "2",
                    "--eval-option", f"fid_samples={sz.fid}",
                    "--eval-option", f"fid_reference={sz.fid}",
                    "--eval-option", f"labels={min(1000, sz.train // 2)}")
    metrics = json.loads((run / "results.json").read_text())["evaluators"]
    fid = metrics["fid"]["metrics"]["fid"]["mean"]
    ok = all(k in metrics for k in ("fid", "reconstruction", "svm-features"))
    return ok and math.isfinite(fid), f"FID-{sz.fid} {fid:.2f}; {seconds:.1f} s"


def check_fid_devices(sh: Shell, sz: Sizes, data: Path, run: Path) -> tuple[bool, str]:
    from PIL import Image
    from scipy.io import loadmat

    out = sh.root / "samples.npy"
    sh("sample", str(run), "-n", str(sz.fid), "-o", str(out), "--device", sh.device)
    samples, real = sh.root / "samples", sh.root / "real"
    for i, img in enumerate(np.load(out)):
        pixels = np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)  # (3, 32, 32) in [0, 1]
        samples.mkdir(exist_ok=True)
        Image.fromarray(pixels.transpose(1, 2, 0)).save(samples / f"{i:05d}.png")
    # the test split as images (`genzoo fid` checks a dataset's files against the published
    # ones, which these random files are not)
    for i, img in enumerate(loadmat(data / "svhn" / "test_32x32.mat")["X"].transpose(3, 0, 1, 2)
                            [: sz.fid]):
        real.mkdir(exist_ok=True)
        Image.fromarray(img).save(real / f"{i:05d}.png")
    values = {}
    for device in dict.fromkeys([sh.device, "cpu"]):
        text, _ = sh("fid", str(samples), str(real), "--json", "--device", device,
                     env={"GENZOO_CACHE": str(sh.root / f"cache-{device}")})
        values[device] = json.loads(text[text.index("{"):])["fid"]
    a, b = values[sh.device], values["cpu"]
    rel = abs(a - b) / max(abs(b), 1e-12)
    return rel <= 1e-3, f"FID on {sh.device} {a:.4f}, on cpu {b:.4f}: relative {rel:.1e}"


def check_throughput(sz: Sizes, data: Path, device: str) -> tuple[bool | None, str]:
    import torch
    from image_throughput import genzoo_trainer, reference_step, timed_steps

    cuda = device.startswith("cuda")
    rates, peaks = {}, {}
    # bf16 on a CPU is fast only with AVX512-BF16 units (bench/image_throughput.py)
    precisions = ["fp32", "tf32", "bf16"] if cuda else ["fp32"]
    sides: dict[str, Callable[[int], None]] = {}
    for precision in precisions:
        trainer = genzoo_trainer(data, precision, device)

        def run(n: int, trainer=trainer) -> None:
            trainer.settings.steps = trainer.step + n
            trainer.fit()
        sides[f"genzoo {precision}"] = run
    examples = trainer.dataset.examples("train")[0]
    ref = reference_step(torch.as_tensor(np.asarray(examples)), device=device)
    sides["plain loop"] = lambda n: [ref() for _ in range(n)]  # type: ignore[func-returns-value]
    for name, run in sides.items():
        run(2)  # warm-up: allocator, cuDNN's algorithm choice
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        rates[name] = timed_steps(run, sz.throughput_steps, device)
        peaks[name] = torch.cuda.max_memory_allocated() / 2**20 if cuda else float("nan")
    ratio = rates["genzoo fp32"] / rates["plain loop"]
    detail = ", ".join(f"{k} {v:.0f} img/s" + (f" ({peaks[k]:.0f} MiB)" if cuda else "")
                       for k, v in rates.items())
    return (ratio >= 1.5 if cuda and not sz.tiny else None), \
        f"{detail}; genzoo fp32 / plain loop {ratio:.2f}x"


def _compare(sh: Shell, sz: Sizes, device: str, out: Path) -> tuple[dict, float]:
    args = ["compare", "ali", "gan", "vae", "--toy", "grid25", "--device", device,
            "--out", str(out), "--no-progress"]
    if sz.toy_steps:
        args += ["--steps", str(sz.toy_steps), "--seeds", str(sz.toy_seeds)]
    _, seconds = sh(*args)
    return json.loads((out / "results.json").read_text()), seconds


def check_compare(sh: Shell, sz: Sizes) -> tuple[bool, str]:
    here, wall = _compare(sh, sz, sh.device, sh.root / f"compare-{sh.device}")
    if sh.device == "cpu":
        return True, f"finished in {wall:.1f} s (no second device to hold it against)"
    cpu, cpu_wall = _compare(sh, sz, "cpu", sh.root / "compare-cpu")
    off = []
    for model, metrics in here["models"].items():
        for name, value in metrics.items():
            other = cpu["models"].get(model, {}).get(name)
            if not (isinstance(value, dict) and isinstance(other, dict)) or \
                    value.get("mean") is None or other.get("mean") is None:
                continue
            spread = max(2 * max(value["std"], other["std"]), 0.02 * abs(other["mean"]))
            if abs(value["mean"] - other["mean"]) > spread:
                off.append(f"{model}.{name} {value['mean']:.3g} vs {other['mean']:.3g}")
    return not off, (f"{sh.device} {wall:.1f} s, cpu {cpu_wall:.1f} s; "
                     + ("every metric within the seed spread" if not off
                        else "outside the spread: " + "; ".join(off[:4])))


def check_torchrun(sh: Shell, sz: Sizes, data: Path) -> tuple[bool, str]:
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                "--nproc-per-node", "1", "-m", "genzoo"]
    started = time.perf_counter()
    for i, args in enumerate((
            _train_args(sz, data, sh.root / "torchrun-train", sh.device, steps=sz.every),
            ["compare", "ali", "--toy", "grid25", "--steps", str(sz.toy_steps or 200),
             "--seeds", "2", "--device", sh.device, "--out", str(sh.root / "torchrun-cmp"),
             "--no-progress"])):
        log = sh.root / f"torchrun-{i}.log"
        with log.open("w") as f:
            done = subprocess.run([*torchrun, *args], stdout=f, stderr=subprocess.STDOUT,
                                  env=sh.env, timeout=600)
        if done.returncode != 0:
            return False, f"`torchrun ... genzoo {args[0]}` exited {done.returncode} ({log})"
    ok, detail = _losses_finite(sh.root / "torchrun-train")
    ok = ok and (sh.root / "torchrun-cmp" / "results.json").exists()
    return ok, f"train ({detail}) and compare in {time.perf_counter() - started:.1f} s"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    ap.add_argument("--tiny", action="store_true", help="tiny sizes: the CPU rehearsal")
    ap.add_argument("--out", type=Path, help="keep everything here (default: a temp folder)")
    ap.add_argument("--skip", action="append", default=[],
                    help=f"a check to leave out (repeatable): {', '.join(CHECKS)}")
    args = ap.parse_args(argv)
    unknown = set(args.skip) - set(CHECKS)
    if unknown:
        print(f"unknown check(s) to skip: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA GPU here; run with --device cpu --tiny for the CPU rehearsal",
              file=sys.stderr)
        return 2
    sz = Sizes.of(args.tiny)
    root = args.out or Path(tempfile.mkdtemp(prefix="genzoo-gpu-check-"))
    root.mkdir(parents=True, exist_ok=True)
    os.environ["GENZOO_CACHE"] = str(root / "cache")  # the in-process throughput's
    from synthetic_svhn import write_svhn

    write_svhn(root / "data", sz.train, test=max(sz.fid, 100))
    data = root / "data"
    sh = Shell(root, args.device)
    run = root / "run"
    where = (torch.cuda.get_device_name() if args.device.startswith("cuda")
             else f"cpu, {torch.get_num_threads()} threads")
    print(f"genzoo GPU check on {where}, torch {torch.__version__}; outputs in {root}")
    report = Report()
    checks: dict[str, Callable[[], tuple[bool | None, str]]] = {
        "train": lambda: check_train(sh, sz, data, run),
        "resume": lambda: check_resume(sh, sz, data, run),
        "cross-device": lambda: check_cross_device(sh, sz, data, run),
        "evaluate": lambda: check_evaluate(sh, sz, run),
        "fid-devices": lambda: check_fid_devices(sh, sz, data, run),
        "throughput": lambda: check_throughput(sz, data, args.device),
        "compare": lambda: check_compare(sh, sz),
        "torchrun": lambda: check_torchrun(sh, sz, data),
    }
    started = time.perf_counter()
    for name, check in checks.items():
        if name in args.skip:
            continue
        if name in NEEDS_RUN and not (run / "checkpoints").exists():
            report.add(name, False, "needs the train check's run")
            continue
        report.run(name, check)
    print(f"\ngenzoo GPU check on {where} ({time.perf_counter() - started:.0f} s)")
    print(report.table())
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
