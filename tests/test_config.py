"""RunConfig.with_preset: the preset of a model on a dataset, then the overrides, then the given fields."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sbrzoo.config import RunConfig
from sbrzoo.errors import ConfigError


def test_a_preset_run_takes_the_preset_then_the_overrides_then_the_fields() -> None:
    config = RunConfig.with_preset("tagnnpp", "diginetica", {"lr": 1e-3}, seed=7, valid_split="none",
                                   select_on="last")
    assert (config.settings["dim"], config.settings["heads"]) == (120, 8)  # the Diginetica preset of the paper
    assert (config.training.batch_size, config.training.lr) == (50, 1e-3)  # preset batch, overridden lr
    assert (config.seed, config.valid_split, config.select_on) == (7, "none", "last")
    assert (config.device, config.backend, config.engine, config.eval_batch_size) == ("cpu", "torch", "eager", 500)
    assert RunConfig.with_preset("tagnnpp", "yoochoose1_64").settings["dim"] == 100
    # what was asked for is recorded (unset options, None, are not): the rest is the preset's
    asked = RunConfig.with_preset("tagnnpp", "diginetica", {"lr": 1e-4, "heads": 8, "epochs": None})
    assert asked.overridden == ("settings.heads", "training.lr") and config.overridden == ("training.lr",)
    assert asked.settings == RunConfig.with_preset("tagnnpp", "diginetica").settings


def test_a_preset_run_refuses_what_the_model_does_not_have() -> None:
    with pytest.raises(ConfigError, match="heads"):
        RunConfig.with_preset("srgnn", "diginetica", {"heads": 2})
    with pytest.raises(ConfigError, match="validation split"):  # the RunConfig's own checks still apply
        RunConfig.with_preset("srgnn", "diginetica", valid_split="none")


def test_a_config_of_another_version_is_refused_naming_its_file(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**RunConfig.with_preset("srgnn", "diginetica").to_dict(), "colour": "red"}))
    with pytest.raises(ConfigError, match=f"^{re.escape(str(path))}: config does not match this version"):
        RunConfig.load(path)


@pytest.mark.parametrize(("edit", "named"), [
    ({"settings": {"hybrid": "false"}}, 'settings.hybrid: expected true/false, got "false"'),  # truthy as a string
    ({"seed": "abc"}, 'seed: expected an integer, got "abc"'),
    ({"valid_fraction": "0.1"}, 'valid_fraction: expected a number, got "0.1"'),
    ({"training": {"lr": "fast"}}, 'training.lr: expected a number, got "fast"'),
    ({"training": {"lr": -1.0}}, "lr must be above 0"),
    ({"settings": {"colour": 1}}, "settings: unknown key 'colour'"),
    ({"settings": None}, "settings: expected an object, got null"),
    ({"select_metric": "XYZ"}, "select_metric: 'XYZ' is not one of HR@20"),
    ({"model": 5}, "model: expected a string, got 5"),
    ({"model": "srgnnn"}, "model: unknown model 'srgnnn'; did you mean 'srgnn'?"),
    ({"overridden": "lr"}, 'overridden: expected a list of setting names, got "lr"'),
])
def test_a_hand_edited_config_is_refused_naming_the_key(tmp_path: Path, edit: dict, named: str) -> None:
    saved = RunConfig.with_preset("srgnn", "diginetica").to_dict()
    for key, value in edit.items():
        saved[key] = {**saved[key], **value} if isinstance(value, dict) else value
    path = tmp_path / "config.json"
    path.write_text(json.dumps(saved))
    with pytest.raises(ConfigError) as error:
        RunConfig.load(path)
    assert str(error.value).startswith(f"{path}: ") and named in str(error.value)


def test_a_saved_config_loads_as_it_was_written(tmp_path: Path) -> None:
    config = RunConfig.with_preset("tagnnpp", "diginetica", {"lr": 1e-3}, seed=3, valid_split="none",
                                   select_on="last")
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config.to_dict()))
    assert RunConfig.load(path) == config
    older = {k: v for k, v in config.to_dict().items() if k != "overridden"}  # saved before it was recorded
    path.write_text(json.dumps(older))
    assert RunConfig.load(path).overridden == ()


def test_a_config_saved_before_agc_exclude_items_loads_with_the_exemption_it_trained_with(tmp_path: Path) -> None:
    config = RunConfig.with_preset("tagnnpp", "diginetica", {"agc_exclude_items": False})
    saved = config.to_dict()
    del saved["training"]["agc_exclude_items"]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(saved))
    assert RunConfig.load(path).training.agc_exclude_items is True
    saved["training"]["agc_exclude_items"] = "no"
    path.write_text(json.dumps(saved))
    with pytest.raises(ConfigError, match='training.agc_exclude_items: expected true/false, got "no"'):
        RunConfig.load(path)


def test_a_stan_config_saved_with_the_training_span_loads_with_the_rate_it_was_fitted_with(tmp_path: Path) -> None:
    """``train_span_days`` (before 2026-12-02) divided the sessions fitted by the span: all 186,670
    Diginetica training sessions without a validation split, 186,670 - 18,667 with the default one.
    ``sessions_per_day`` is now the dataset's, so only the first matches today's preset."""
    path = tmp_path / "config.json"
    for split, rate in (("none", 186_670 / 145), ("last_sessions", (186_670 - 18_667) / 145)):
        config = RunConfig.with_preset("stan", "diginetica", valid_split=split, select_on="last")
        saved = config.to_dict()
        saved["settings"] = {k: v for k, v in saved["settings"].items() if k != "sessions_per_day"} | {
            "train_span_days": 145.0}
        path.write_text(json.dumps(saved))
        assert RunConfig.load(path).settings == config.settings | {"sessions_per_day": rate}
    assert config.settings["sessions_per_day"] == pytest.approx(186_670 / 145)
