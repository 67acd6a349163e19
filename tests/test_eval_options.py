"""Evaluator options are typed: each evaluator's ``Options`` dataclass, parsed by the coercion
model settings use; a bad value is one line naming the evaluator, the option and what it
takes, before anything slow runs."""

from __future__ import annotations

import pytest
from host_helpers import run_cli, set_args, small_overrides

from genzoo.core import plugins
from genzoo.core.config import parse_options
from genzoo.core.errors import GenzooError
from genzoo.evaluators.base import MAX_COUNT, check_options
from genzoo.evaluators.mode_coverage import ModeCoverage
from genzoo.evaluators.svm_features import SVMFeatures


def test_strings_from_the_command_line_become_the_fields_types():
    svm = SVMFeatures(balanced="false", labels="500", select="per-draw", chunk=64)
    assert svm.opts.balanced is False and svm.opts.labels == 500
    assert svm.opts.select == "per-draw" and svm.opts.chunk == 64
    assert SVMFeatures(balanced="true").opts.balanced is True
    coverage = ModeCoverage(threshold="2.5", samples=1e3)  # 1e3 from TOML is a whole number
    assert coverage.opts.threshold == 2.5 and coverage.opts.samples == 1000
    assert ModeCoverage(unrelated="x").opts.samples == 2_500  # another evaluator's key


@pytest.mark.parametrize(("evaluator", "options", "words"), [
    ("mode-coverage", {"samples": "abc"}, "mode-coverage: option samples='abc' is not valid; "
                                          f"it takes an integer in 1..{MAX_COUNT}"),
    ("mode-coverage", {"samples": 1e99}, f"it takes an integer in 1..{MAX_COUNT}"),
    ("mode-coverage", {"samples": 2.5}, "option samples=2.5 is not valid"),
    ("svm-features", {"balanced": "maybe"}, "it takes true or false"),
    ("svm-features", {"select": "twice"}, "it takes one of once, per-draw"),
    ("fid", {"fid_samples": 1}, "fid: option fid_samples=1 is not valid"),
    ("inference", {"threshold": "-1"}, "it takes a number >= 0"),
])
def test_a_bad_value_is_one_line_naming_the_evaluator_and_what_it_takes(evaluator, options,
                                                                         words):
    cls = plugins.registry().evaluator(evaluator)
    with pytest.raises(GenzooError) as err:
        cls(**options)
    assert words in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(GenzooError, match=words.split(";")[0][:20]):
        check_options([cls], options)  # what compare calls before it trains anything


def test_the_cli_refuses_a_bad_option_value_with_exit_code_2(tmp_path, capsys):
    gan = plugins.registry().model("gan")
    run = tmp_path / "gan"
    assert run_cli(["train", "gan", "--toy", "grid25", "--steps", "3", "--out", str(run),
                    "--no-progress", *set_args(small_overrides(gan))]) == 0
    capsys.readouterr()
    assert run_cli(["evaluate", str(run), "--metric", "mode-coverage",
                    "--eval-option", "samples=abc"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"error: mode-coverage: option samples='abc' is not valid; it takes an "
                   f"integer in 1..{MAX_COUNT}")
    out = tmp_path / "cmp"
    assert run_cli(["compare", "gan", "--toy", "grid25", "--steps", "3", "--seeds", "1",
                    "--eval-option", "threshold=wide", "--out", str(out), "--no-progress"]) == 2
    assert "threshold='wide' is not valid" in capsys.readouterr().err


def test_parse_options_keeps_defaults_and_skips_foreign_keys():
    from dataclasses import dataclass

    @dataclass
    class Opts:
        n: int = 3
        name: str | None = None

    assert parse_options(Opts, "x", {}) == Opts()
    assert parse_options(Opts, "x", {"n": "7", "name": 12, "other": "y"}) == Opts(7, "12")
    assert parse_options(Opts, "x", {"name": "none"}).name is None
