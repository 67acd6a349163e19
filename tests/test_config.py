"""Config dataclasses: --set parsing by type, presets, and the config.json round trip."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pytest

from genzoo.core import config as config_lib
from genzoo.core.errors import GenzooError
from genzoo.core.model import DataSpec, Model


@dataclass
class Settings:
    lr: float = 1e-4
    layers: int = 3
    batchnorm: bool = True
    init_std: float | None = 0.02
    loss: Literal["nonsaturating", "saturating"] = "nonsaturating"
    sizes: tuple[int, ...] = (4, 4)
    name: str = "x"


def test_set_values_are_parsed_by_field_type():
    parsed = config_lib.parse_overrides(Settings, [
        "lr=2e-4", "layers=5", "batchnorm=false", "init-std=none", "loss=saturating",
        "sizes=8,16,32", "name=hello world"])
    assert parsed == {"lr": 2e-4, "layers": 5, "batchnorm": False, "init_std": None,
                      "loss": "saturating", "sizes": (8, 16, 32), "name": "hello world"}
    assert config_lib.parse_overrides(Settings, ["init_std=0.5", "batchnorm=ON"]) == {
        "init_std": 0.5, "batchnorm": True}


@pytest.mark.parametrize(("item", "words"), [
    ("lr=fast", "setting lr='fast' is not a valid float"),
    ("layers=2.5", "is not a valid int"),
    ("batchnorm=maybe", "is not a valid bool"),
    ("loss=hinge", "must be one of nonsaturating, saturating"),
    ("init_std=big", "does not fit type"),
    ("lr", "must look like KEY=VALUE"),
    ("lrr=1", "unknown setting 'lrr' for Settings; did you mean lr"),
])
def test_bad_set_items_are_one_line_errors(item, words):
    with pytest.raises(GenzooError, match=words) as err:
        config_lib.parse_overrides(Settings, [item])
    assert "\n" not in str(err.value)


def test_build_applies_layers_in_order_and_refuses_unknown_fields():
    built = config_lib.build(Settings, {"lr": 1.0, "layers": 1}, {"lr": 2.0})
    assert (built.lr, built.layers, built.batchnorm) == (2.0, 1, True)
    with pytest.raises(GenzooError, match="unknown setting.*nope"):
        config_lib.build(Settings, {"nope": 1})


def test_json_round_trip_keeps_tuples_and_ignores_removed_settings():
    original = Settings(sizes=(1, 2, 3), init_std=None)
    data = config_lib.to_dict(original)
    assert data["sizes"] == [1, 2, 3]  # JSON has no tuples
    back = config_lib.from_dict(Settings, {**data, "setting_removed_since": 7})
    assert back == original


class Presets(Model):
    """Presets: a mapping, and one computed from the data."""

    name = "presets"
    Config = Settings
    presets = {"paper": {"layers": 7, "lr": 1e-3},
               "wide": lambda data: {"sizes": (data.x_shape[0] * 10,)}}


def test_presets_layer_under_overrides():
    data = DataSpec("toy", (2,))
    assert Presets.make_config(data) == Settings()
    paper = Presets.make_config(data, "paper", {"lr": 5e-3})
    assert (paper.layers, paper.lr) == (7, 5e-3)
    assert Presets.make_config(data, "wide").sizes == (20,)
    assert Presets.preset_names() == ["default", "paper", "wide"]
    with pytest.raises(GenzooError, match="has no preset 'tiny' \\(presets: default, paper, wide"):
        Presets.make_config(data, "tiny")
