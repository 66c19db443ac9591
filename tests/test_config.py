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
