"""Settings of a run: the model's (per part) and the training's, with presets per model and dataset.

Torch-free. A model's settings are the union of its parts' settings (see
:func:`sbrzoo.models.ModelSpec.settings`); a preset gives values for some of them and for the
training. User overrides must name a setting the model has. The resolved values are saved with
each run. Where docs/MODELS.md reports that a paper and its released code disagree, the comment
says which a preset follows; the released code's values are the presets of the ``*_ref`` variants.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from sbrzoo.errors import ConfigError
from sbrzoo.models.neighbourhood.presets import dataset_presets

__all__ = ["TrainingSettings", "Preset", "preset_for", "resolve_settings", "parse_setting", "validate_values",
           "TRAINING_FIELDS"]


@dataclass(frozen=True)
class TrainingSettings:
    """How a model is trained (the same fields for every neural model).

    Attributes:
        batch_size: Training prefixes per step.
        epochs: Most epochs to train (early stopping may end sooner).
        optimizer: ``"adam"`` (L2 through ``weight_decay``, SR-GNN family) or ``"adamw"``
            (decoupled decay, none on biases, norms and PReLU; LESSR).
        lr: Initial learning rate.
        weight_decay: L2 penalty (adam) or decoupled decay (adamw).
        lr_step, lr_gamma: ``lr * lr_gamma ** floor((epoch + lr_step_offset) / lr_step)``; 0 = constant.
        lr_step_offset: 1 reproduces the released SR-GNN-family code, which steps its scheduler at
            the start of every epoch (docs/MODELS.md §4.3).
        patience: Epochs without a better validation score before stopping (counted by ``stop_rule``).
        stop_rule: What counts against the patience (:data:`STOP_RULES`, docs/MODELS.md §4.3):
            ``"selected_metric"`` an epoch that does not raise the selection metric, reset by one that
            does; ``"any_metric"`` (LESSR's code) an epoch that raises none of the metrics, reset by
            one that raises any; ``"never_reset"`` (the SR-GNN family's code) an epoch that reaches
            neither the best HR@20 nor the best MRR@20 so far, never reset.
        agc_clipping, agc_eps: Adaptive Gradient Clipping, for models that use it (docs/MODELS.md §4.4).
        drop_last: Each epoch leaves out the smaller last batch of the shuffled examples (LESSR's
            DataLoader does; the SR-GNN family trains on it).
        agc_exclude_items: AGC leaves the item embedding, which is also the output layer, unclipped
            (the NFNets rule exempts the last layer); ``False`` clips it too.
    """

    batch_size: int = 100
    epochs: int = 30
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 1e-5
    lr_step: int = 3
    lr_gamma: float = 0.1
    lr_step_offset: int = 0
    patience: int = 10
    stop_rule: str = "selected_metric"
    drop_last: bool = False
    agc_clipping: float = 0.01
    agc_eps: float = 1e-3
    agc_exclude_items: bool = True

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


TRAINING_FIELDS = tuple(f.name for f in fields(TrainingSettings))
STOP_RULES = ("selected_metric", "any_metric", "never_reset")


@dataclass(frozen=True)
class Preset:
    """Values for some model settings and the training of one model family on one dataset."""

    settings: Mapping[str, Any] = field(default_factory=dict)
    training: TrainingSettings = TrainingSettings()


_SRGNN = TrainingSettings()  # SR-GNN code defaults (docs/MODELS.md §4.2), also TAGNN's
# TAGNN++ paper settings (docs/MODELS.md §3.4b, §6.3): the paper, not the code (lr 1e-3, L2 1e-5, 30 epochs,
# batch 75 on Yoochoose, swapped widths, always 2 heads) -- see P10.
_TAGNNPP = replace(_SRGNN, batch_size=50, lr=1e-4, weight_decay=1e-6, epochs=15, patience=5)
# LESSR code defaults (README settings for Diginetica: 4 layers), AdamW with decoupled decay.
_LESSR = replace(_SRGNN, batch_size=512, epochs=30, optimizer="adamw", lr=1e-3, weight_decay=1e-4, lr_step=0,
                 patience=2, drop_last=True)
_LESSR_SETTINGS = {"dim": 32, "num_layers": 3, "dropout": 0.2, "max_norm": 1.0}
# The released TAGNN++ code (docs/MODELS.md §4.2, P10): widths swapped between datasets, always 2 heads,
# non-hybrid readout, lr 1e-3, L2 1e-5, 30 epochs; every SR-GNN-family code steps its schedule one epoch early.
_CODE = replace(_SRGNN, lr_step_offset=1, stop_rule="never_reset")
_TAGNNPP_CODE = replace(_CODE, batch_size=50)
# GC-SAN (Xu et al., IJCAI 2019; docs/MODELS.md §3.8.5). Block (§3 of the paper): one head, d x d feed-forward --
# fixed by the part. omega: the paper's parameter study suggests 0.4-0.8 (as RecBole's GCSAN config quotes it);
# 0.6, k = 1 block and dropout 0.2 (a rate the paper does not give) are RecBole's and RecBole-GNN's values.
# Training: the SR-GNN protocol on whose split and code GC-SAN reports -- d 100, Adam lr 1e-3 x 0.1 every 3
# epochs, L2 1e-5, batch 100, 30 epochs (*unverified* against the paper's parameter-setup text).
_GCSAN = Preset({"dim": 100, "gnn_steps": 1, "num_layers": 1, "dropout": 0.2, "causal": False, "omega": 0.6},
                _SRGNN)
# NARM (Li et al., CIKM 2017; docs/MODELS.md §3.8.6): the paper's implementation details (§4) and the released
# code's `train_gru` defaults agree -- item embedding 50, one GRU layer of 100 units, dropout 0.25 between
# embedding and GRU and 0.5 between attention and bilinear decoder, Adam lr 1e-3, batch 512, 30 epochs; the code
# has no L2 and no schedule, and its patience (100 epochs) never stops its 30 epochs. Same values on every dataset.
_NARM = Preset({"dim": 50, "hidden_size": 100, "input_dropout": 0.25, "context_dropout": 0.5},
               replace(_SRGNN, batch_size=512, epochs=30, lr=1e-3, weight_decay=0.0, lr_step=0, patience=30))

# GRU4Rec (Hidasi et al., ICLR 2016; docs/MODELS.md §3.8.1). The paper's networks (*unverified* against its text)
# have 100 (and 1000) GRU units and one-hot inputs, trained with Adagrad on session-parallel mini-batches and
# sampled TOP1 / BPR losses; none of that carries over to the zoo's protocol (prefix examples, full cross-entropy,
# Adam). A 100-wide embedding for the 100 units; lr 1e-2 and dropout 0.3 on the embeddings are [RB]'s tuned
# GRU4Rec (docs/MODELS.md §6.4, Adam and cross-entropy as here; with lr 1e-3 it learns far slower); batch 100,
# no L2, no schedule: our choice.
_GRU4REC = Preset({"dim": 100, "hidden_size": 100, "input_dropout": 0.3, "hidden_dropout": 0.0},
                  replace(_SRGNN, batch_size=100, lr=1e-2, weight_decay=0.0, lr_step=0))
# STAMP (Liu et al., KDD 2018; docs/MODELS.md §3.8.2): the released code's config/nn_param.conf, [stamp_cikm] and
# [stamp_rsc] alike -- embedding 100, batch 512, lr 3e-3, 10 epochs, a constant rate ("update_lr": false); its
# model file adds no L2 term (its Adam wrapper, basic_layer/NN_adam.py, is not among the files we could read).
# Its max_grad_norm (110 / 150) and stddev 0.05 / emb_stddev 0.002 initialisation are not reproduced.
_STAMP = Preset({"dim": 100}, replace(_SRGNN, batch_size=512, lr=3e-3, weight_decay=0.0, lr_step=0, epochs=10))
# RepeatNet (Ren et al., AAAI 2019; docs/MODELS.md §3.8.3). Released code (RepeatNet-pytorch, RepeatNet/Run.py and
# Model.py): batch 1024, Adam at its default lr 1e-3 and no L2, dropout 0.5 on the embeddings and on the GRU
# states. Paper (*unverified* against its text): 100-wide embedding and GRU (the code's demo uses 128), the rate
# halved every 3 epochs, gradients clipped to [-5, 5] (the trainer has no clipping). 30 epochs: our choice.
_REPEATNET = Preset({"dim": 100, "hidden_size": 100, "input_dropout": 0.5, "hidden_dropout": 0.5},
                    replace(_SRGNN, batch_size=1024, lr=1e-3, weight_decay=0.0, lr_step=3, lr_gamma=0.5))
# CSRM (Wang et al., SIGIR 2019; docs/MODELS.md §3.8.4): the released code's main.py defaults -- embedding and GRU
# width 150 (its comments give 50 / 100 as the initial values), memory_size 512, batch 512, Adam lr 5e-4,
# 50 epochs, patience 10, keep probabilities 0.75 (embeddings) and 0.5 (before the decoder); no L2, no schedule.
# The memory holds the 512 most recent training sessions, all of them read; the code stores its last 10,000 and
# reads the 512 most similar (memory_size=10000, memory_neighbours=512 here).
_CSRM = Preset({"dim": 150, "hidden_size": 150, "input_dropout": 0.25, "memory_size": 512, "memory_neighbours": 0,
                "readout_dropout": 0.5},
               replace(_SRGNN, batch_size=512, lr=5e-4, weight_decay=0.0, lr_step=0, epochs=50, patience=10))

_PRESETS: dict[tuple[str, str], Preset] = {
    ("srgnn", "*"): Preset(training=_SRGNN),
    ("tagnn", "*"): Preset(training=_SRGNN),
    # Paper: Yoochoose d=100 with 2 heads, Diginetica d=120 with 8 heads (100 is not divisible by 8).
    ("tagnnpp", "*"): Preset({"dim": 100, "heads": 2, "dropout": 0.1}, _TAGNNPP),
    ("tagnnpp", "diginetica"): Preset({"dim": 120, "heads": 8, "dropout": 0.1}, _TAGNNPP),
    # The built-in synthetic data is a quick demonstration (the README's first command), not a paper
    # benchmark: fewer, faster epochs so that it finishes in a few minutes on two CPU cores.
    ("tagnnpp", "synthetic"): Preset({"dim": 64, "heads": 2, "dropout": 0.1},
                                     replace(_TAGNNPP, batch_size=100, lr=1e-3, epochs=5, patience=2)),
    ("lessr", "*"): Preset(_LESSR_SETTINGS, _LESSR),
    ("lessr", "diginetica"): Preset({**_LESSR_SETTINGS, "num_layers": 4}, _LESSR),
    ("pop", "*"): Preset(training=replace(_SRGNN, epochs=0)),
    ("gcsan", "*"): _GCSAN,
    ("narm", "*"): _NARM,
    ("gru4rec", "*"): _GRU4REC,
    ("stamp", "*"): _STAMP,
    ("repeatnet", "*"): _REPEATNET,
    ("csrm", "*"): _CSRM,
    ("srgnn_ref", "*"): Preset(training=_CODE),
    ("tagnn_ref", "*"): Preset(training=_CODE),
    ("tagnnpp_ref", "*"): Preset({"dim": 100, "heads": 2, "dropout": 0.1, "hybrid": False}, _TAGNNPP_CODE),
    ("tagnnpp_ref", "yoochoose1_64"): Preset({"dim": 120, "heads": 2, "dropout": 0.1, "hybrid": False},
                                             replace(_TAGNNPP_CODE, batch_size=75)),
    ("tagnnpp_ref", "yoochoose1_4"): Preset({"dim": 120, "heads": 2, "dropout": 0.1, "hybrid": False},
                                            replace(_TAGNNPP_CODE, batch_size=75)),
}


# The counting baselines' settings per dataset, with their sources (session-rec's published configurations).
_PRESETS |= {key: Preset(settings) for key, settings in dataset_presets().items()}


def preset_for(preset: str, dataset: str) -> Preset:
    """The preset of a model family on a dataset (its ``"*"`` entry, else an empty preset)."""
    return _PRESETS.get((preset, dataset)) or _PRESETS.get((preset, "*")) or Preset()


def resolve_settings(spec: Any, dataset: str, overrides: Mapping[str, Any] | None = None,  # noqa: ANN401
                     ) -> tuple[dict[str, Any], TrainingSettings]:
    """``spec``'s model settings and training settings on ``dataset``: part defaults, then the
    preset, then ``overrides`` (None values are ignored: unset CLI options).

    Args:
        spec: A :class:`~sbrzoo.models.ModelSpec`.
        dataset: Registered dataset name (selects the preset).
        overrides: Setting name -> value; model settings and training fields alike.

    Raises:
        ConfigError: an override names a setting this model does not have (listing those it has),
            or a value is invalid.
    """
    defaults = spec.settings()
    preset = preset_for(spec.preset, dataset)
    settings = {name: preset.settings.get(name, default) for name, default in defaults.items()}
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    unknown = [k for k in given if k not in defaults and k not in TRAINING_FIELDS]
    if unknown:
        name = unknown[0]
        close = difflib.get_close_matches(name, [*defaults, *TRAINING_FIELDS], n=1)
        raise ConfigError(
            f"{spec.name} has no setting {name!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
            + f"; its settings: {', '.join(defaults) or 'none'}; training: {', '.join(TRAINING_FIELDS)}")
    settings |= {k: v for k, v in given.items() if k in defaults}
    training = replace(preset.training, **{k: v for k, v in given.items() if k in TRAINING_FIELDS})
    validate_values(settings, training)
    return settings, training


def parse_setting(text: str, default: Any) -> Any:  # noqa: ANN401 - a setting's value
    """``"0.2"`` -> 0.2 for a float setting, ``"false"`` -> False for a bool, ...: the text of
    ``--set NAME=VALUE`` as the type of the setting's default (every setting has a value: no ``none``)."""
    lowered = text.strip().lower()
    if lowered in ("none", "null"):
        raise ConfigError(f"expected a value, got {text!r} (every setting has one; leave it out for the preset's)")
    if isinstance(default, bool):
        if lowered not in ("true", "false", "1", "0", "yes", "no"):
            raise ConfigError(f"expected true or false, got {text!r}")
        return lowered in ("true", "1", "yes")
    for kind in (int, float):
        if isinstance(default, kind):
            try:
                return kind(text)
            except ValueError:
                raise ConfigError(f"expected a{'n integer' if kind is int else ' number'}, got {text!r}") from None
    return text


# Settings (of any model) and training fields that must be at least 1, above 0, or at least 0
_AT_LEAST_ONE = ("dim", "heads", "num_layers", "gnn_steps", "hidden_size", "memory_size", "ffn_mult", "k",
                 "batch_size", "patience")
_POSITIVE = ("lr", "lr_gamma", "max_norm", "lambda_spw", "lambda_snh_days", "sessions_per_day", "lambda_inh",
             "lambda_ipw")  # the neighbourhood decays divide by their λ
_NOT_NEGATIVE = ("epochs", "weight_decay", "lr_step", "sample_size", "agc_clipping", "agc_eps",  # epochs 0: pop
                 "idf_weighting", "lambda_idf")


def validate_values(settings: Mapping[str, Any], training: TrainingSettings) -> None:
    """Every value in its range, whether it came from a preset, an option or ``--set`` (one rule)."""
    values = {**settings, **training.to_dict()}
    for key, value in values.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{key} must be a finite number, got {value}")
    for key in (k for k in _AT_LEAST_ONE if k in values and values[k] < 1):
        raise ConfigError(f"{key} must be at least 1, got {values[key]}")
    for key in (k for k in _POSITIVE if k in values and values[k] <= 0):
        raise ConfigError(f"{key} must be above 0, got {values[key]}")
    for key in (k for k in _NOT_NEGATIVE if k in values and values[k] < 0):
        raise ConfigError(f"{key} must be at least 0, got {values[key]}")
    for key in (k for k in settings if k.endswith("dropout")):  # dropout, input_dropout, ...
        if not 0 <= settings[key] < 1:
            raise ConfigError(f"{key} must be in [0, 1), got {settings[key]}")
    if training.optimizer not in ("adam", "adamw"):
        raise ConfigError(f"optimizer must be 'adam' or 'adamw', got {training.optimizer!r}")
    if training.stop_rule not in STOP_RULES:
        raise ConfigError(f"stop_rule must be one of {', '.join(STOP_RULES)}, got {training.stop_rule!r}")
