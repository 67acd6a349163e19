"""The command line's shared pieces: the typer app, one-line errors, `main`, `plugins`."""

from __future__ import annotations

import errno
import importlib
import json
import os
import sys
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from typer.exceptions import TyperException

from genzoo.core.errors import GenzooError, ReportedElsewhere


class _Lazy:
    """A module imported on first use: `genzoo --help`, a mistyped option and shell
    completion answer without importing torch (nearly all of the start-up time)."""

    def __init__(self, name: str):
        self._name, self._module = name, None

    def __getattr__(self, attr: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attr)


api: Any = _Lazy("genzoo.api")
distributed: Any = _Lazy("genzoo.training.distributed")
plugins: Any = _Lazy("genzoo.core.plugins")

app = typer.Typer(name="genzoo", add_completion=False, no_args_is_help=True,
                  pretty_exceptions_enable=False,
                  help="Train, compare and evaluate generative models with inference.")
console = Console()
err_console = Console(stderr=True)
_state = {"debug": False}


def debug_enabled() -> bool:
    return _state["debug"] or os.environ.get("GENZOO_DEBUG", "") not in ("", "0")


# errors of the environment, not of genzoo: a full disk, a read-only or forbidden folder
_ENVIRONMENT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                       errno.ENAMETOOLONG}


def environment_error(exc: OSError) -> str | None:
    """The one line for an OSError the user's machine caused, or None for any other."""
    if exc.errno not in _ENVIRONMENT_ERRNOS:
        return None
    where = f" writing {exc.filename}" if exc.filename else ""
    if exc.errno == errno.ENAMETOOLONG:
        return (f"a file name or path is longer than the file system allows"
                f"{f' ({str(exc.filename)[:60]}...)' if exc.filename else ''}; choose a "
                f"shorter one")
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return (f"the disk is full{where}; free some space and run the command again (files "
                f"genzoo writes are replaced only once complete: a run keeps its last "
                f"complete checkpoint)")
    return f"{exc.strerror}{where}; choose a folder you can write to, or fix its permissions"


@contextmanager
def user_errors():
    """Turn GenzooError into one line on stderr and exit code 2 (the traceback with --debug)."""
    def fail(line: str | None) -> NoReturn:
        if debug_enabled():  # the traceback, and still bad input's exit code
            traceback.print_exc()
        if line is not None:
            err_console.print(f"[red]error:[/red] {line}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None

    try:
        yield
    except ReportedElsewhere:  # another process prints it (rank 0 of a sharded compare)
        fail(None)
    except GenzooError as exc:
        fail(str(exc))
    except OSError as exc:
        line = environment_error(exc)
        if line is None:
            raise
        fail(line)
    except UnicodeEncodeError as exc:
        if "surrogates not allowed" not in str(exc):
            raise
        fail("a path given is not valid UTF-8 (genzoo records paths in JSON files); choose "
             "a name in UTF-8")
    except KeyboardInterrupt as exc:
        from genzoo.training.trainer import TrainingInterrupted

        if isinstance(exc, TrainingInterrupted):
            where = (f"; its checkpoint is in {exc.run} (continue with `genzoo train --resume "
                     f"{exc.run}`)" if exc.run is not None else "")
            err_console.print(f"interrupted at step {exc.step}{where}", highlight=False,
                              soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        err_console.print("interrupted")
        raise typer.Exit(130) from None


@app.callback()
def _main(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False):
    _state["debug"] = debug
    if debug:
        os.environ["GENZOO_DEBUG"] = "1"


@app.command("plugins")
def plugins_cmd(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False):
    """List plugins and what each registered."""
    with user_errors():
        reg = plugins.registry()
        data = reg.as_dict()
        if as_json:
            print(json.dumps(data, indent=2))
            return
        table = Table(title="genzoo plugins")
        for col in ("plugin", "distribution", "version", "models", "datasets", "evaluators"):
            table.add_column(col)
        for p in reg.plugins.values():
            cells = (["[dim]disabled (GENZOO_DISABLE_PLUGINS)", "", ""] if p.disabled else
                     [f"[red]failed: {p.error}", "", ""] if p.error else
                     [", ".join(p.registered[k]) for k in ("models", "datasets", "evaluators")])
            table.add_row(p.name, p.distribution, p.version, *cells)
        console.print(table)


def _dataset_name(toy: str | None, dataset: str | None) -> str:
    if toy and dataset:
        raise GenzooError("pass either --toy or --dataset, not both")
    if not (toy or dataset):
        raise GenzooError("name the data: --toy grid25|ring8 or --dataset NAME "
                          "(`genzoo plugins` lists datasets)")
    return toy or dataset  # type: ignore[return-value]


def _data_options(data_dir: Path | None, download: bool = False,
                  verify: bool = True) -> dict[str, Any]:
    # resolved: the run records it, and is sampled, evaluated and resumed from other folders
    opts: dict[str, Any] = ({"data_dir": data_dir.expanduser().resolve()}
                            if data_dir is not None else {})
    if download:
        opts["download"] = True
    if not verify:
        opts["verify"] = False
    return opts


def _one_process(command: str) -> None:
    """Only `genzoo train` (data-parallel) and `genzoo compare` (jobs shared out) run under
    torchrun; every other command would run N times over, each copy writing the same files."""
    if distributed.env_world_size() > 1:
        raise GenzooError(f"genzoo {command} runs in one process; only `genzoo train` and "
                          f"`genzoo compare` run under torchrun: start it with plain "
                          f"`genzoo {command} ...`")


def _eval_options(items: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings -> evaluator options; numbers become int or float."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise GenzooError(f"--eval-option {item!r} must look like KEY=VALUE")
        parsed: Any = value
        for kind in (int, float):
            try:
                parsed = kind(value)
                break
            except ValueError:
                continue
        out[key.strip().replace("-", "_")] = parsed
    return out


def main(argv: list[str] | None = None) -> None:
    """Entry point: one-line errors for bad usage too, exit code 2."""
    args = list(sys.argv[1:] if argv is None else argv)
    _state["debug"] = "--debug" in args  # per call: an embedding program may call main again
    try:
        # without standalone mode, an Exit raised in a command comes back as the return value
        code = app(args=args, standalone_mode=False, prog_name="genzoo")
    except TyperException as exc:  # usage errors: unknown option, missing argument, bad value
        if debug_enabled():
            raise
        ctx = getattr(exc, "ctx", None)
        cmd = ctx.command_path if ctx is not None else "genzoo"
        print(f"error: {exc.format_message()} (see `{cmd} --help`)", file=sys.stderr)
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):  # Ctrl-C before a command's own handler
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (GenzooError, OSError) as exc:  # raised outside a command (e.g. plugin loading)
        line = str(exc) if isinstance(exc, GenzooError) else environment_error(exc)
        if line is None:
            raise_internal()
        if debug_enabled():
            traceback.print_exc()
        print(f"error: {line}", file=sys.stderr)
        sys.exit(2)
    except Exception:
        raise_internal()
    sys.exit(code if isinstance(code, int) else 0)


def raise_internal() -> None:
    """For an exception being handled that is genzoo's fault: one line and exit 1."""
    if debug_enabled():
        raise
    exc_type, exc_value, _ = sys.exc_info()
    print(f"internal error: {exc_type.__name__}: {exc_value}; rerun with --debug for the "
          f"traceback and report it", file=sys.stderr)
    sys.exit(1)


if __name__ == "__main__":
    main()
