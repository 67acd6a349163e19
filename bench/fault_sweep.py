"""The fault and bad-input sweep (issues 13 and 23), rerunnable after any change.

Each case runs the installed `genzoo` command line in a scratch folder and checks what a user
sees: the exit code, one line on stderr (``error: ...`` for bad input; no traceback), the
words that say what to do, and that nothing the user made was lost (a run's checkpoint still
loads, a folder that is not a run is untouched).

    .venv/bin/python bench/fault_sweep.py            # the table, one row per case
    .venv/bin/python bench/fault_sweep.py --json OUT # also the rows as JSON

Exit code 0 when every case holds. About two minutes on 2 cores (each case starts a process).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GENZOO = [sys.executable, "-m", "genzoo"]
SMALL = ["--set", "decoder_hidden=16", "--set", "disc_units=16", "--no-progress"]


@dataclass
class Case:
    item: str  # the item number
    name: str
    args: list[str] | Callable[[Path], list[str]]
    code: int
    says: str = ""  # words stderr must contain
    setup: Callable[[Path], None] | None = None
    check: Callable[[Path], str | None] | None = None  # after: None, or what was lost
    env: dict[str, str] = field(default_factory=dict)
    debug_too: bool = False  # also under --debug: the same exit code


def genzoo(args: list[str], cwd: Path, env: dict[str, str] | None = None,
           timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*GENZOO, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


# --- setups and checks ------------------------------------------------------------------------

def base_run(w: Path) -> None:
    """R: a finished 10-step GAN run that the cases may not destroy."""
    if not (w / "R").exists():
        done = genzoo(["train", "gan", "--toy", "grid25", "--steps", "10", "--out", "R",
                       *SMALL], w)
        assert done.returncode == 0, done.stderr


def copy_run(name: str) -> Callable[[Path], None]:
    def setup(w: Path) -> None:
        base_run(w)
        shutil.rmtree(w / name, ignore_errors=True)
        shutil.copytree(w / "R", w / name)
    return setup


def run_intact(name: str = "R") -> Callable[[Path], str | None]:
    def check(w: Path) -> str | None:
        done = genzoo(["sample", name, "-n", "8", "-o", "intact.npy"], w)
        return None if done.returncode == 0 else f"{name} no longer samples: {done.stderr}"
    return check


def sidecar(w: Path, name: str) -> Path:
    return sorted((w / name / "checkpoints").glob("step-*.json"))[-1]


def edit_sidecar(name: str, edit: Callable[[dict], object]) -> Callable[[Path], None]:
    def setup(w: Path) -> None:
        copy_run(name)(w)
        path = sidecar(w, name)
        path.write_text(json.dumps(edit(json.loads(path.read_text()))))
    return setup


def without_rng(w: Path) -> None:
    from safetensors.torch import load_file, save_file

    from genzoo.core.atomic import file_digest

    copy_run("NORNG")(w)
    meta = sidecar(w, "NORNG")
    tensors = meta.with_suffix(".safetensors")
    save_file({k: v for k, v in load_file(tensors).items() if not k.startswith("rng/")},
              tensors)
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "sha256": file_digest(tensors)}))


def config_list(w: Path) -> None:
    copy_run("LIST")(w)
    (w / "LIST" / "config.json").write_text("[1, 2]")


def not_a_run(w: Path) -> None:
    (w / "mine").mkdir(exist_ok=True)
    (w / "mine" / "thesis.tex").write_text("years of work")


def mine_untouched(w: Path) -> str | None:
    files = sorted(p.name for p in (w / "mine").iterdir())
    return None if files == ["thesis.tex"] else f"mine/ now holds {files}"


def png_bomb(w: Path) -> None:
    from PIL import Image

    (w / "bomb").mkdir(exist_ok=True)
    import io

    buf = io.BytesIO()
    Image.new("L", (1, 1)).save(buf, format="PNG")
    png = bytearray(buf.getvalue())
    png[16:24] = struct.pack(">II", 20000, 20000)
    png[29:33] = struct.pack(">I", zlib.crc32(bytes(png[12:29])))
    (w / "bomb" / "x.png").write_bytes(bytes(png))


def crafted_cifar(w: Path) -> None:
    import numpy as np

    d = w / "cifar" / "cifar10" / "cifar-10-batches-py"
    d.mkdir(parents=True, exist_ok=True)
    good = {b"data": np.zeros((10, 3072), np.uint8), b"labels": [0] * 10}
    for name in [f"data_batch_{i}" for i in range(1, 6)]:
        (d / name).write_bytes(pickle.dumps(good, protocol=2))
    block = bytes(3072 * 100)  # 10,000 references to it: 3 GB under np.asarray
    (d / "data_batch_1").write_bytes(pickle.dumps({b"data": [block] * 10_000,
                                                   b"labels": [0] * 10_000}, protocol=2))
    (d / "test_batch").write_bytes(pickle.dumps(good, protocol=2))


def garbage_weights(w: Path) -> None:
    (w / "w.pth").write_bytes(bytes(range(256)) * 40)
    (w / "imgs").mkdir(exist_ok=True)
    from PIL import Image

    Image.new("RGB", (32, 32)).save(w / "imgs" / "a.png")


def fifo(w: Path) -> None:
    if not (w / "pipe").exists():
        os.mkfifo(w / "pipe")


def fake_svhn_with_forged_memo(w: Path) -> None:
    """A fake SVHN file and an md5 memo entry, edited by hand, claiming the published md5."""
    import numpy as np
    from scipy.io import savemat

    d = w / "svhn-data" / "svhn"
    d.mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        savemat(d / f"{split}_32x32.mat", {"X": np.zeros((32, 32, 3, 4), np.uint8),
                                           "y": np.ones((4, 1), np.uint8)})
    from genzoo.data.svhn import PUBLISHED

    cache = w / "cache"
    cache.mkdir(exist_ok=True)
    memo = {}
    for spec in PUBLISHED.files:
        path = (w / "svhn-data" / spec.path).resolve()
        if path.exists():
            st = path.stat()
            memo[str(path)] = {"md5": spec.md5, "mac": "0" * 64,
                               "stamp": [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns,
                                         st.st_ctime_ns]}
    (cache / "md5.json").write_text(json.dumps(memo))


def interrupted(w: Path) -> str | None:
    """SIGINT in the middle of training: exit 130 and a checkpoint at that step."""
    shutil.rmtree(w / "INT", ignore_errors=True)
    proc = subprocess.Popen([*GENZOO, "train", "gan", "--toy", "grid25", "--steps", "100000",
                             "--out", "INT", *SMALL], cwd=w, stderr=subprocess.PIPE, text=True)
    for _ in range(600):
        if (w / "INT" / "metrics.jsonl").exists():
            break
        time.sleep(0.1)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=120)[1]
    steps = sorted((w / "INT" / "checkpoints").glob("step-*.json"))
    if proc.returncode != 130 or not steps or "interrupted at step" not in err:
        return f"exit {proc.returncode}, checkpoints {len(steps)}: {err.strip()[-200:]}"
    return run_intact("INT")(w)


def second_writer(w: Path) -> str | None:
    """A run directory held by another process: the second writer is refused naming it."""
    copy_run("LOCKED")(w)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from genzoo.training.locks import DirLock; "
         "lock = DirLock(sys.argv[1], 'a test holder'); lock.__enter__(); print('held', "
         "flush=True); time.sleep(60)", str(w / "LOCKED")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        done = genzoo(["train", "--resume", "LOCKED", "--steps", "20"], w)
    finally:
        holder.kill()
        holder.wait()
    if done.returncode != 2 or "is in use by" not in done.stderr:
        return f"exit {done.returncode}: {done.stderr.strip()[-200:]}"
    return run_intact("LOCKED")(w)


# --- the cases ----------------------------------------------------------------------------------

def edit_config(name: str, edit: Callable[[dict], None]) -> Callable[[Path], None]:
    def setup(w: Path) -> None:
        copy_run(name)(w)
        path = w / name / "config.json"
        config = json.loads(path.read_text())
        edit(config)
        path.write_text(json.dumps(config))
    return setup


def replace_entry(name: str, entry: str, folder: bool) -> Callable[[Path], None]:
    """Run ``name``'s ``entry`` replaced by a folder (``folder``) or an empty file."""
    def setup(w: Path) -> None:
        copy_run(name)(w)
        path = w / name / entry
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
        path.mkdir() if folder else path.write_text("")
    return setup


def toml(name: str, text: bytes) -> Callable[[Path], None]:
    return lambda w: (w / name).write_bytes(text)


def empty_svhn(w: Path) -> None:
    (w / "svhn0" / "svhn").mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        (w / "svhn0" / "svhn" / f"{split}_32x32.mat").write_bytes(b"")


def terabyte_cifar(w: Path) -> None:
    folder = w / "cifar-tb" / "cifar10" / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    import numpy as np

    class Terabyte:  # unpickled: numpy.ndarray((2**40,), 'u1'), from about 100 bytes
        def __reduce__(self):
            return (np.ndarray, ((2**40,), "u1"))

    evil = pickle.dumps({b"data": Terabyte(), b"labels": [0]}, protocol=2)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(evil)


def linked_checkpoints(w: Path) -> None:
    copy_run("LINK")(w)
    away = w / "LINK-checkpoints"
    shutil.rmtree(away, ignore_errors=True)
    shutil.move(w / "LINK" / "checkpoints", away)
    (w / "LINK" / "checkpoints").symlink_to(away)


def config_unchanged(name: str) -> Callable[[Path], str | None]:
    """``name``'s config.json still records the base run's 10 steps."""
    def check(w: Path) -> str | None:
        steps = json.loads((w / name / "config.json").read_text())["train"]["steps"]
        return None if steps == 10 else f"config.json's steps became {steps}"
    return check


def stopped_compare(w: Path) -> str | None:
    """A compare stopped by SIGINT in its second model continues with --resume."""
    args = ["compare", "gan", "vae", "--toy", "grid25", "--seeds", "2", "--steps", "400",
            "--metric", "mode-coverage", "--out", "CMP", "--no-progress"]
    proc = subprocess.Popen([*GENZOO, *args], cwd=w, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        if (w / "CMP" / "runs" / "vae").exists():
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    if proc.returncode != 130 or "genzoo compare --resume" not in err:
        return f"stopped compare: exit {proc.returncode}, {err.strip()[-120:]!r}"
    again = genzoo(args, w)
    if again.returncode != 2 or "--resume" not in again.stderr:
        return "the same --out again does not point at --resume"
    done = genzoo(["compare", "--resume", "CMP", "--no-progress"], w)
    if done.returncode != 0 or not (w / "CMP" / "results.json").exists():
        return f"compare --resume: exit {done.returncode}, {done.stderr.strip()[-120:]!r}"
    return None


def early_ctrl_c(w: Path) -> str | None:
    proc = subprocess.Popen([*GENZOO, "plugins"], cwd=w, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        return None  # finished first
    return None if proc.returncode == 130 and err.strip() == "interrupted" else \
        f"exit {proc.returncode}: {err.strip()[-160:]!r}"


TRAIN = ["train", "gan", "--toy", "grid25", *SMALL]
CASES = [
    Case("1", "failed before a checkpoint (bf16 on toy)", [*TRAIN, "--precision", "bf16",
         "--out", "D"], 2, "bf16"),
    Case("1", "... then train --out again restarts it", [*TRAIN, "--steps", "10", "--out", "D"],
         0, "starting it again"),
    Case("2", "second writer of a run directory", [], 0, check=lambda w: second_writer(w)),
    Case("1", "SIGINT mid-training: checkpoint, exit 130", [], 0,
         check=lambda w: interrupted(w)),
    Case("3", "--batch-size 1 (BatchNorm)", [*TRAIN, "--batch-size", "1", "--out", "B1"], 2,
         "batch", debug_too=True),
    Case("3", "--set lr=-1", [*TRAIN, "--set", "lr=-1", "--out", "X"], 2, "must be positive",
         debug_too=True),
    Case("3", "--set lr=nan", [*TRAIN, "--set", "lr=nan", "--out", "X"], 2, "not a finite"),
    Case("3", "--out names a file", [*TRAIN, "--out", "afile"], 2, "",
         setup=lambda w: (w / "afile").write_text("x")),
    Case("3", "--out under a file", [*TRAIN, "--out", "afile/sub"], 2, "",
         setup=lambda w: (w / "afile").write_text("x")),
    Case("3", "-o names a folder", ["sample", "R", "-o", "dir.png"], 2, "is a folder",
         setup=lambda w: (base_run(w), (w / "dir.png").mkdir(exist_ok=True))),
    Case("3", "config.json is a JSON list", ["sample", "LIST", "-o", "s.npy"], 2, "JSON list",
         setup=config_list),
    Case("3", "sidecar is a list", ["sample", "SL", "-o", "s.npy"], 2, "holds a JSON list",
         setup=edit_sidecar("SL", lambda m: [m])),
    Case("3", "sidecar lacks optimizers", ["train", "--resume", "SO", "--steps", "20"], 2, "",
         setup=edit_sidecar("SO", lambda m: {k: v for k, v in m.items()
                                            if k != "optimizers"})),
    Case("3", "checkpoint without rng/*", ["sample", "NORNG", "-o", "s.npy"], 2, "lacks rng",
         setup=without_rng),
    Case("3", "20000x20000 PNG to genzoo fid", ["fid", "bomb", "bomb"], 2, "decompression",
         setup=png_bomb),
    Case("4", "--batch-size 10**9", [*TRAIN, "--batch-size", str(10**9), "--out", "BIG"], 2,
         "needs at least"),
    Case("4", "sample -n 10**12", ["sample", "R", "-n", str(10**12), "-o", "s.npy"], 2,
         "ask for fewer samples", setup=base_run, check=run_intact()),
    Case("4", "2 MB crafted CIFAR pickle", ["train", "gan", "--dataset", "cifar10",
         "--data-dir", "cifar", "--no-verify", "--steps", "1", "--out", "C", "--no-progress"],
         2, "not a CIFAR-10 batch", setup=crafted_cifar),
    Case("5", "train ali --resume <a gan run>", ["train", "ali", "--resume", "R"], 2,
         "started with the model gan", setup=base_run, check=run_intact()),
    Case("5", "--resume with --toy ring8", ["train", "--resume", "R", "--toy", "ring8"], 2,
         "not ring8", setup=base_run),
    Case("5", "--resume with --set", ["train", "--resume", "R", "--set", "lr=0.1"], 2,
         "--set is fixed", setup=base_run),
    Case("6", "extending a run says what the schedule does",
         ["train", "--resume", "EXT", "--steps", "20"], 0, "schedule",
         setup=copy_run("EXT")),
    Case("7", "sample names no option it lacks", ["sample", "nope", "-o", "s.npy"], 2,
         "does not exist"),
    Case("7", "a FIFO is called a FIFO", ["sample", "pipe", "-o", "s.npy"], 2, "named pipe",
         setup=fifo),
    Case("8", "forged md5 memo entry for a fake SVHN", ["train", "gan", "--dataset", "svhn",
         "--data-dir", "svhn-data", "--steps", "1", "--out", "SV", "--no-progress"], 2,
         "damaged or a different file", setup=fake_svhn_with_forged_memo,
         env={"GENZOO_CACHE": "cache"}),
    Case("9", "sidecar without sha256", ["sample", "NOSHA", "-o", "s.npy"], 2, "sha256",
         setup=edit_sidecar("NOSHA", lambda m: {k: v for k, v in m.items() if k != "sha256"})),
    Case("9", "sidecar step differs from the file", ["sample", "STEP", "-o", "s.npy"], 2, "",
         setup=edit_sidecar("STEP", lambda m: {**m, "step": 999})),
    Case("10", "GENZOO_DISABLE_PLUGINS names no plugin", ["plugins"], 0,
         "not an installed plugin", env={"GENZOO_DISABLE_PLUGINS": "alii"}),
    Case("11", "--fid-weights garbage", ["fid", "imgs", "imgs", "--fid-weights", "w.pth"], 2,
         "cannot read FID Inception weights", setup=garbage_weights),
    Case("11", "--toy mnist5k", ["train", "gan", "--toy", "mnist5k", "--out", "X"], 2,
         "toy dataset"),
    Case("11", "ALI (case)", ["train", "ALI", "--toy", "grid25", "--out", "X"], 2,
         "did you mean ali"),
    Case("11", "unknown --eval-option key", ["evaluate", "R", "-m", "mode-coverage",
         "--eval-option", "sample=10"], 2, "did you mean samples", setup=base_run),
    Case("11", "z_dim=0", ["train", "ali", "--toy", "grid25", "--set", "z_dim=0", "--out", "X"],
         2, "must be positive"),
    Case("11", "disc_layers=0", ["train", "ali", "--toy", "grid25", "--set", "disc_layers=0",
         "--out", "X"], 2, "at least 1"),
    Case("11", "train into a folder that is not a run", [*TRAIN, "--steps", "5", "--out",
         "mine"], 2, "", setup=not_a_run, check=mine_untouched),
    # issue 23
    Case("23", "--eval-option samples=abc", ["evaluate", "R", "-m", "mode-coverage",
         "--eval-option", "samples=abc"], 2, "is not valid; it takes an integer",
         setup=base_run),
    Case("23", "--eval-option samples=1e99", ["evaluate", "R", "-m", "mode-coverage",
         "--eval-option", "samples=1e99"], 2, "integer in 1..10000000", setup=base_run),
    Case("23", "config.json seeds 'abc'", ["sample", "CS", "-o", "s.npy"], 2, "seeds is 'abc'",
         setup=edit_config("CS", lambda c: c.update(seeds="abc"))),
    Case("23", "config.json dataset a list", ["sample", "CD", "-o", "s.npy"], 2,
         "dataset is ['grid25']", setup=edit_config("CD", lambda c: c.update(
             dataset=["grid25"]))),
    Case("23", "config.json z_dim a string", ["sample", "CZ", "-o", "s.npy"], 2,
         "z_dim is 'two'", setup=edit_config("CZ", lambda c: c["model_config"].update(
             z_dim="two"))),
    Case("23", "config.json model_config a list", ["sample", "CM", "-o", "s.npy"], 2,
         "model_config is [1, 2]", setup=edit_config("CM", lambda c: c.update(
             model_config=[1, 2]))),
    Case("23", "metrics.jsonl replaced by a folder", ["train", "--resume", "MF", "--steps",
         "20"], 2, "is a folder", setup=replace_entry("MF", "metrics.jsonl", folder=True)),
    Case("23", "tensorboard/ replaced by a file", ["train", "--resume", "TF", "--steps", "20"],
         2, "is a file", setup=replace_entry("TF", "tensorboard", folder=False)),
    Case("23", "results.json holds a list", ["evaluate", "RL", "-m", "mode-coverage"], 2,
         "holds no evaluators' results", setup=lambda w: (
             copy_run("RL")(w), (w / "RL" / "results.json").write_text("[1, 2]"))),
    Case("23", "TOML steps = \"five\"", ["train", "--config", "a.toml", "--out", "X"], 2,
         "steps is 'five'", setup=toml("a.toml", b'model = "gan"\ndataset = "grid25"\n'
                                                 b'steps = "five"\n')),
    Case("23", "TOML steps = 5.5", ["train", "--config", "b.toml", "--out", "X"], 2,
         "steps is 5.5", setup=toml("b.toml", b'model = "gan"\ndataset = "grid25"\n'
                                              b'steps = 5.5\n')),
    Case("23", "TOML [settings] lr = \"fast\"", ["train", "--config", "c.toml", "--out", "X"],
         2, "lr is 'fast'", setup=toml("c.toml", b'model = "gan"\ndataset = "grid25"\n'
                                                 b'[settings]\nlr = "fast"\n')),
    Case("23", "TOML not UTF-8", ["train", "--config", "d.toml", "--out", "X"], 2,
         "not UTF-8", setup=toml("d.toml", b'model = "gan"\n\xff\xfe = 1\n')),
    Case("23", "compare TOML metrics a string", ["compare", "--config", "e.toml", "--out",
         "E"], 2, "metrics is 'mode-coverage'", setup=toml(
             "e.toml", b'models = ["gan"]\nmetrics = "mode-coverage"\n')),
    Case("23", "compare TOML seeds = 10**9", ["compare", "--config", "f.toml", "--out", "F"],
         2, "--seeds must be in 1..100000", setup=toml(
             "f.toml", b'models = ["gan"]\ndataset = "grid25"\nseeds = 1000000000\n')),
    Case("23", "--out longer than the file system allows", [*TRAIN, "--out", "x" * 300], 2,
         "longer than the file system allows"),
    Case("23", "--out not UTF-8", [*TRAIN, "--out", os.fsdecode(b"bad\xffname")], 2,
         "not valid UTF-8"),
    Case("23", "zero-byte train_32x32.mat, --no-verify", ["train", "gan", "--dataset", "svhn",
         "--data-dir", "svhn0", "--no-verify", "--steps", "1", "--out", "S0",
         "--no-progress"], 2, "is not an SVHN .mat file", setup=empty_svhn),
    Case("23", "CIFAR pickle asking for 1 TiB", ["train", "gan", "--dataset", "cifar10",
         "--data-dir", "cifar-tb", "--no-verify", "--steps", "1", "--out", "CT",
         "--no-progress"], 2, "larger than the file", setup=terabyte_cifar),
    Case("23", "--resume --steps below the trained step", ["train", "--resume", "SH",
         "--steps", "3"], 0, "", setup=copy_run("SH"), check=config_unchanged("SH")),
    Case("23", "checkpoints/ linked out of the run", ["train", "--resume", "LINK", "--steps",
         "20"], 2, "is a link to", setup=linked_checkpoints),
    Case("23", "a stopped compare continues with --resume", [], 0, check=stopped_compare),
    Case("23", "Ctrl-C in the first second", [], 0, check=early_ctrl_c),
]


def run_case(case: Case, w: Path) -> dict[str, object]:
    if case.setup is not None:
        case.setup(w)
    problems: list[str] = []
    stderr = ""
    if case.args:
        args = case.args(w) if callable(case.args) else case.args
        env = {k: str(w / v) if k == "GENZOO_CACHE" else v for k, v in case.env.items()}
        for debug in ([], ["--debug"]) if case.debug_too else ([],):
            done = genzoo([*debug, *args], w, env)
            if done.returncode != case.code:
                problems.append(f"exit {done.returncode}, wanted {case.code}")
            if debug:
                continue
            stderr = done.stderr.strip()
            lines = [line for line in stderr.splitlines() if line.strip()]
            if "Traceback" in stderr:
                problems.append("a traceback")
            if case.code == 2 and (len(lines) != 1 or not lines[0].startswith("error:")):
                problems.append(f"{len(lines)} lines on stderr")
            if case.says and case.says not in stderr:
                problems.append(f"does not say {case.says!r}")
    if case.check is not None:
        lost = case.check(w)
        if lost:
            problems.append(lost)
    last = stderr.splitlines()[-1] if stderr else ""
    return {"item": case.item, "case": case.name, "expected": case.code,
            "ok": not problems, "problems": problems, "stderr": last[:160]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    parser.add_argument("-k", default="", help="only cases whose name contains this")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="genzoo-sweep-") as tmp:
        w = Path(tmp)
        for case in CASES:
            if args.k and args.k not in case.name:
                continue
            start = time.perf_counter()
            row = run_case(case, w)
            row["seconds"] = round(time.perf_counter() - start, 1)
            rows.append(row)
            mark = "ok  " if row["ok"] else "FAIL"
            print(f"{mark} {row['item']:>3} {row['case']:<48} exit {row['expected']}  "
                  f"{'; '.join(row['problems']) or row['stderr']}", flush=True)
    failed = [r for r in rows if not r["ok"]]
    print(f"\n{len(rows) - len(failed)}/{len(rows)} cases hold")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
