"""A non-editable install runs: the wheel built from this checkout, installed into a fresh
environment, gives a working `genzoo` command and the conformance kit, from the wheel's own
files and not the checkout's."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _packages_on_disk() -> set[str]:
    names = set()
    for top, package in (("genzoo", "genzoo"), ("plugins", "genzoo_plugins")):
        for init in (ROOT / top).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / top).parts
            names.add(".".join((package, *parts)))
    return names


def test_pyproject_lists_every_package_on_disk() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert set(config["packages"]) == _packages_on_disk()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("src")  # a copy: the build leaves build/ and *.egg-info
    for name in ("pyproject.toml", "README.md", "genzoo", "plugins"):
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        copy(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--no-index", "-q", "-w", str(out), str(src)], check=True)
    (built,) = out.glob("genzoo-*.whl")
    return built


def test_the_wheel_holds_every_package_and_the_type_marker(wheel: Path) -> None:
    files = zipfile.ZipFile(wheel).namelist()
    for package in _packages_on_disk():
        path = package.replace(".", "/")
        assert f"{path}/__init__.py" in files, package
    assert "genzoo/py.typed" in files
    assert not any(f.startswith(("tests/", "bench/")) for f in files)


def test_genzoo_runs_from_the_installed_wheel(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], check=True, capture_output=True, text=True)
    # the dependencies (torch, ...) from this environment's site-packages as a plain path, so
    # its .pth files, the editable install of the checkout among them, are not read
    ours = subprocess.run([sys.executable, "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], check=True, capture_output=True, text=True)
    Path(site.stdout.strip(), "deps.pth").write_text(ours.stdout.strip() + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                    "--no-deps", "--no-index", str(wheel)], check=True)
    work = tmp_path / "work"  # not the checkout: nothing may import from it
    work.mkdir()

    def run(*args: str) -> str:
        done = subprocess.run(args, cwd=work, capture_output=True, text=True, timeout=300,
                              env={**os.environ, "COLUMNS": "200"})
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    where = run(str(python), "-c", "import genzoo, genzoo.testing, genzoo_plugins.ali as a; "
                "print(genzoo.__file__); print(a.__file__)")
    assert all(line.startswith(str(env_dir)) for line in where.split()), where
    genzoo = str(env_dir / "bin" / "genzoo")
    assert "Usage: genzoo" in run(genzoo, "--help")
    listing = run(genzoo, "plugins")
    for plugin in ("ali", "alice", "bigan", "gan", "vae", "core-datasets", "core-evaluators"):
        assert plugin in listing, plugin
    run(genzoo, "train", "gan", "--toy", "grid25", "--steps", "10", "--out", "run",
        "--no-progress", "--no-tensorboard")
    assert (work / "run" / "checkpoints").is_dir()
