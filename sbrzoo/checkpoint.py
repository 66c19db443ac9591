"""Reading checkpoints as data: ``torch.load(weights_only=True)`` and one-line errors for bad files.

Every checkpoint sbrzoo writes (``best.pt``, ``last.pt``) holds only tensors and plain containers
(dicts, lists, numbers, strings), so it loads with ``weights_only=True``; a file whose pickle
would build any other object (``os.system``, a class) is refused, never executed.
"""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sbrzoo.errors import DataError

__all__ = ["load_checkpoint", "load_weights"]


def load_checkpoint(path: Path, *, keys: Mapping[str, type | tuple[type, ...]] | None = None,
                    map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The dict saved in ``path``, loaded as data.

    Args:
        path: A ``.pt`` file written by sbrzoo.
        keys: Entries the dict must have, each with the type(s) its value must be (``int`` excludes bools).
        map_location: Where the tensors go.

    Raises:
        DataError: naming ``path``, when it is missing, empty, truncated, not a torch checkpoint,
            would run code when unpickled, or lacks one of ``keys`` or holds it with another type.
    """
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise DataError(f"{path}: empty file (0 bytes); the checkpoint was not written completely")
        state = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise DataError(f"{path}: missing") from None
    except IsADirectoryError:
        raise DataError(f"{path}: a folder, not a checkpoint file") from None
    except pickle.UnpicklingError:
        raise DataError(f"{path}: refused: it holds objects other than tensors and plain data "
                        "(sbrzoo never writes such files, and loading one could run code)") from None
    except (RuntimeError, OSError, EOFError, zipfile.BadZipFile, KeyError, ValueError, IndexError) as error:
        raise DataError(f"{path}: not a readable torch checkpoint (damaged or truncated: "
                        f"{_first_line(error)})") from None
    if not isinstance(state, dict):
        raise DataError(f"{path}: not an sbrzoo checkpoint (holds a {type(state).__name__}, not a dict)")
    keys = keys or {}
    missing = [key for key in keys if key not in state]
    if missing:
        raise DataError(f"{path}: not an sbrzoo checkpoint of this kind (no {', '.join(missing)})")
    for key, kinds in keys.items():
        value = state[key]
        allowed = kinds if isinstance(kinds, tuple) else (kinds,)
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            raise DataError(f"{path}: damaged: its {key} is {type(value).__name__} {value!r:.40}")
    return state


def load_weights(model: nn.Module, state_dict: Mapping[str, Any], path: Path) -> None:
    """``model.load_state_dict(state_dict)``, with a one-line error naming ``path`` when the
    saved weights do not fit the model (other names or shapes)."""
    if not isinstance(state_dict, Mapping) or not all(isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise DataError(f"{path}: the weights are not a mapping of names to tensors")
    expected = model.state_dict()
    state_dict = _renamed_parameters(_current_names(model, state_dict), expected)
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    wrong = [f"{name} {tuple(state_dict[name].shape)} vs {tuple(tensor.shape)}"
             for name, tensor in expected.items() if name in state_dict and state_dict[name].shape != tensor.shape]
    problems = ([f"missing {', '.join(missing[:3])}"] if missing else []) + (
        [f"unexpected {', '.join(unexpected[:3])}"] if unexpected else []) + (
        [f"shapes differ: {'; '.join(wrong[:3])}"] if wrong else [])
    if problems:
        raise DataError(f"{path}: the weights do not fit this model ({'; '.join(problems)})")
    model.load_state_dict(state_dict)


def _current_names(model: nn.Module, state_dict: Mapping[str, Any]) -> Mapping[str, Any]:
    """Weights saved before the parts registry (run folders of sbrzoo 0.1, whose ``config.json``
    :class:`~sbrzoo.config.RunConfig` also migrates) under today's names: the model's one node encoder
    was ``graph_encoder``, and each sequence encoder was named after its part (``positional``,
    ``transformer``; the reference TAGNN++'s node self-attention was ``transformer`` too). The
    parameters' order, hence the optimizer state of ``last.pt``, is unchanged."""
    spec = getattr(model, "spec", None)
    if spec is None or not any(name.startswith("graph_encoder.") or name.split(".")[0] in spec.sequence_encoders
                               for name in state_dict):
        return state_dict
    renames = {"graph_encoder": "node_encoders.0"} | {
        part: f"sequence_encoders.{index}" for index, part in enumerate(spec.sequence_encoders)}
    if "node_attention_ref" in spec.node_encoders:  # 0.1's reference TAGNN++ held it as `transformer`
        renames["transformer"] = f"node_encoders.{spec.node_encoders.index('node_attention_ref')}"
    renamed = {}
    for name, tensor in state_dict.items():
        head, dot, rest = name.partition(".")
        renamed[f"{renames.get(head, head)}{dot}{rest}"] = tensor
    return renamed


# Parameters renamed since weights were saved under the old name (old prefix -> new prefix): the additive
# attention of SR-GNN's readout, NARM's and CSRM's became one part, AdditiveAttention (2026-12-02)
_RENAMED_PARAMETERS = (
    ("readout.global_query.", "readout.attention.query."),  # NARM's A_1
    ("readout.query.", "readout.attention.query."),
    ("readout.key.", "readout.attention.key."),
    ("readout.score.", "readout.attention.score."),
)


def _renamed_parameters(state_dict: Mapping[str, Any], expected: Mapping[str, Any]) -> Mapping[str, Any]:
    """``state_dict`` with each name the model does not have, but has under its new name
    (:data:`_RENAMED_PARAMETERS`), renamed; the order, and so the optimizer state's, is kept."""
    renamed = {}
    for name, tensor in state_dict.items():
        if name not in expected:
            new = next((new + name[len(old):] for old, new in _RENAMED_PARAMETERS if name.startswith(old)), name)
            name = new if new in expected else name
        renamed[name] = tensor
    return renamed


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
