"""`genzoo compare --resume OUT`: a compare stopped by Ctrl-C keeps the models it finished and
continues the stopped one from its checkpoint; the results equal an uninterrupted compare's."""

from __future__ import annotations

import json
import signal

from host_helpers import run_cli, small_overrides

from genzoo.core import plugins

STEPS = 20


def _args(out) -> list[str]:
    args = ["compare", "gan", "vae", "--toy", "grid25", "--seeds", "2", "--steps", str(STEPS),
            "--metric", "mode-coverage", "--out", str(out), "--no-progress"]
    for name in ("gan", "vae"):
        for key, value in small_overrides(plugins.registry().model(name)).items():
            args += ["--set", f"{name}.{key}={value}"]
    return args


def _values(out) -> dict:
    models = json.loads((out / "results.json").read_text())["models"]
    return {m: {k: v["values"] for k, v in d.items() if isinstance(v, dict) and "values" in v}
            for m, d in models.items()}


def test_a_stopped_compare_resumes_to_the_uninterrupted_results(tmp_path, monkeypatch, capsys):
    whole = tmp_path / "whole"
    assert run_cli(_args(whole)) == 0
    vae = plugins.registry().model("vae")
    train_step = vae.train_step

    def ctrl_c_at_step_9(self, batch, step, total_steps):
        if step == 9:
            signal.raise_signal(signal.SIGINT)  # as Ctrl-C: the trainer saves, then stops
        return train_step(self, batch, step, total_steps)

    out = tmp_path / "stopped"
    capsys.readouterr()
    with monkeypatch.context() as m:
        m.setattr(vae, "train_step", ctrl_c_at_step_9)
        assert run_cli(_args(out)) == 130
    err = capsys.readouterr().err
    assert f"continue with `genzoo compare --resume {out}`" in err
    assert not (out / "results.json").exists()
    assert run_cli(_args(out)) == 2  # the same --out again is refused, with the way on
    assert f"or continue that compare with `genzoo compare --resume {out}`" in \
        capsys.readouterr().err
    assert run_cli(["compare", "--resume", str(out), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "gan: trained already" in err and "vae: resuming at step 10" in err
    assert _values(out) == _values(whole)


def test_resume_refuses_settings_of_its_own_and_folders_that_are_not_compares(tmp_path, capsys):
    assert run_cli(["compare", "--resume", str(tmp_path), "--seeds", "3"]) == 2
    assert "leave out --seeds" in capsys.readouterr().err
    assert run_cli(["compare", "--resume", str(tmp_path)]) == 2
    assert "holds no compare.json" in capsys.readouterr().err
