"""Export a trained session model as one program over padded item ids (TorchScript or ONNX).

The exported program is ``scores, item_ids = program(items)``:

* ``items``: (B, L) int64, the sbrzoo ids (``1..N``) of every session's clicks, oldest first, each row
  right-padded with 0 to the batch's width ``L``. Every row holds at least one item, with no 0
  between two items. Raw product ids map to sbrzoo ids through the dataset's ``item_map.tsv``
  (see :mod:`sbrzoo.data.extras`; no map: the ids are the raw ids).
* ``scores``: (B, k) float32, the model's scores of the ``k`` best items, best first.
* ``item_ids``: (B, k) int64 sbrzoo ids ``1..N`` of those items.

``B >= 1`` and ``L`` are free (a model with a positional table, TAGNN++, reads a longer session's latest
clicks, as ``sbrzoo recommend`` does); ``k`` is fixed when exporting. The program builds the session graph itself
(the sorted unique items of every session, one edge per distinct transition, SR-GNN's degree weights:
:mod:`sbrzoo.data.graphs`) with plain tensor operations, so it needs neither DGL nor sbrzoo.

What exports: compositions of the parts in :data:`EXPORTABLE_PARTS`: SR-GNN, TAGNN, TAGNN++ and its
Table II rows, GC-SAN, and the models without a graph, GRU4Rec, NARM, STAMP, RepeatNet and CSRM (whose
outer memory is exported as it was at the selected epoch: the program never writes it).
:func:`export_problem` says why any other model does not. Whatever backend a run was trained on, its
weights are exported through the torch graph backend: DGL's operators have no TorchScript or ONNX form.

Example:
    >>> from sbrzoo.experiment import load_run
    >>> run = load_run(Path("runs/srgnn"), device="cpu", backend="torch")
    >>> export_run(run, "onnx", Path("srgnn.onnx"))
"""

from __future__ import annotations

import copy
import dataclasses
import io
import warnings
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.onnx import symbolic_helper

from sbrzoo.data.batch import SessionBatch
from sbrzoo.errors import ConfigError
from sbrzoo.graph.torch_graph import TorchGraph
from sbrzoo.nn.positional import longest_prefix
from sbrzoo.paths import refuse_to_replace

__all__ = ["EXPORT_FORMATS", "EXPORTABLE_PARTS", "INPUT_NAMES", "OUTPUT_NAMES", "ExportInfo", "export_problem",
           "check_exportable", "PaddedSessionProgram", "pad_sessions", "export_run", "load_program", "check_program"]

EXPORT_FORMATS = ("torchscript", "onnx")
INPUT_NAMES = ("items",)
OUTPUT_NAMES = ("scores", "item_ids")
ONNX_OPSET = 17  # ScatterElements with reduction="add" (>= 16), the Unique of opset 11
#: ``(kind, name)`` of the parts the exporter can trace: the SR-GNN family's, GC-SAN's, and those of the
#: GRU and attention models (GRU4Rec, NARM, STAMP, RepeatNet, CSRM).
EXPORTABLE_PARTS = frozenset({
    ("input", "items"), ("node_encoder", "gated_gnn"), ("sequence_encoder", "positional"),
    ("sequence_encoder", "transformer"), ("readout", "soft_attention"), ("readout", "softmax_attention"),
    ("scorer", "dot"), ("scorer", "target_attention"),
    ("sequence_encoder", "self_attention"), ("readout", "weighted_last"),
    ("sequence_encoder", "click_gru"), ("readout", "last_hidden"), ("readout", "narm_attention"),
    ("readout", "stamp_attention"), ("readout", "explore_attention"), ("scorer", "repeat_explore"),
    ("sequence_encoder", "twin_gru"), ("readout", "csrm_memory"),
})
_ITEM_TILE = 4096  # items scored at once by the traced target attention: (B, L, tile) blocks


def export_problem(spec: Any) -> str | None:  # noqa: ANN401 - ModelSpec
    """Why ``spec``'s model cannot be exported (one line, without the model's name), or None when it can."""
    if not spec.composed:
        return ("a counting model (statistics looked up in Python and numpy, no network to trace); use "
                "`sbrzoo recommend` or `sbrzoo serve` instead")
    if spec.fidelity == "reference":
        return ("a released-code variant pads every prefix to an evaluation split's longest, which a live "
                f"session does not have; export {spec.name.removesuffix('_ref')} instead")
    if spec.name.startswith("lessr"):
        return ("LESSR's EOPA/SGAT layers reduce time-ordered mailboxes whose shapes depend on the data "
                "(DGL-style message passing), which traces to no fixed program")
    unsupported = [f"{kind} {name!r}" for kind, name in spec.part_names() if (kind, name) not in EXPORTABLE_PARTS]
    if unsupported:
        return (f"the exporter does not trace its {', '.join(unsupported)} (the parts it traces: "
                "sbrzoo.export.EXPORTABLE_PARTS)")
    return None


def check_exportable(spec: Any) -> None:  # noqa: ANN401 - ModelSpec
    """Raises: ConfigError: ``cannot export MODEL: <export_problem's reason>``."""
    problem = export_problem(spec)
    if problem is not None:
        raise ConfigError(f"cannot export {spec.name}: {problem}")


@dataclass(frozen=True)
class _TracedBatch(SessionBatch):
    """A batch whose size is read from a tensor's shape, so that a trace keeps it variable."""

    @property
    def batch_size(self) -> int:
        return self.lengths.shape[0]


class _TracedGraph(TorchGraph):
    """A torch graph whose batch size is read from a tensor's shape (see :class:`_TracedBatch`)."""

    @property
    def batch_size(self) -> int:
        return self._batch_num_nodes.shape[0]


class _TracedTargetAttention(nn.Module):
    """TAGNN's target attention (:class:`~sbrzoo.nn.target_attention.TargetAttentionScorer`) in plain
    operations over padded clicks, tile by tile of items (the original's custom autograd function
    and packed clicks do not trace). Same weights, same scores up to rounding.

    Shapes:
        session: (B, d); items: (N, d); state.clicks: (B, L, d); state.mask: (B, L) -> (B, N)
    """

    def __init__(self, scorer: nn.Module) -> None:
        super().__init__()
        self.transform = scorer.transform

    def forward(self, session: Tensor, items: Tensor, state: Any) -> Tensor:  # noqa: ANN401 - SessionState
        clicks, mask = state.clicks, state.mask[:, :, None]
        keys = self.transform(clicks)
        attended = []
        for start in range(0, items.shape[0], _ITEM_TILE):
            tile = items[start:start + _ITEM_TILE]
            logits = (keys @ tile.T).masked_fill(~mask, float("-inf"))  # (B, L, tile)
            weights = (logits - logits.amax(dim=1, keepdim=True)).exp()
            attended.append((weights * (clicks @ tile.T)).sum(dim=1) / weights.sum(dim=1))
        return session @ items.T + torch.cat(attended, dim=1)


class _TracedSelfAttention(nn.Module):
    """``nn.MultiheadAttention`` as a Transformer block calls it (self-attention, batch first, boolean
    masks, no weights returned) in plain operations: its fused inference kernel has no ONNX form, and
    its composite path fixes the sequence length in an ONNX trace. Same weights, same outputs up to rounding.

    Shapes:
        query = key = value: (B, L, d); key_padding_mask: (B, L) bool, True = ignore; attn_mask: (L, L)
        bool, True = blocked -> ((B, L, d), None)
    """

    def __init__(self, attention: nn.MultiheadAttention) -> None:
        super().__init__()
        if not (attention.batch_first and attention._qkv_same_embed_dim and attention.bias_k is None
                and not attention.add_zero_attn):
            raise ConfigError("the exporter traces batch-first self-attention without extra key/value biases only")
        self.heads = attention.num_heads
        self.in_proj_weight, self.in_proj_bias = attention.in_proj_weight, attention.in_proj_bias
        self.out_proj = attention.out_proj

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Tensor | None = None,
                attn_mask: Tensor | None = None, need_weights: bool = False) -> tuple[Tensor, None]:
        batch, length, dim = query.shape
        heads = self.heads
        projected = nn.functional.linear(query, self.in_proj_weight, self.in_proj_bias)
        q, k, v = (part.reshape(batch, length, heads, dim // heads).transpose(1, 2)
                   for part in projected.chunk(3, dim=-1))  # (B, H, L, d / H)
        logits = (q @ k.transpose(-1, -2)) * (dim // heads) ** -0.5
        if key_padding_mask is not None:
            logits = logits.masked_fill(key_padding_mask[:, None, None, :], float("-inf"))
        if attn_mask is not None:
            logits = logits.masked_fill(attn_mask, float("-inf"))
        attended = (logits.softmax(dim=-1) @ v).transpose(1, 2).reshape(batch, length, dim)
        return self.out_proj(attended), None


class PaddedSessionProgram(nn.Module):
    """The exported program: padded item ids in, the top-``k`` items out (see the module docstring).

    Args:
        model: A :class:`~sbrzoo.models.session_model.SessionModel` of exportable parts; copied to the
            CPU, never changed.
        k: Items returned per session (at most ``N``).

    Shapes:
        items: (B, L) int64, 0 = padding -> scores (B, k) float32, item_ids (B, k) int64
    """

    def __init__(self, model: nn.Module, k: int) -> None:
        super().__init__()
        check_exportable(model.spec)
        self.model = copy.deepcopy(model).to("cpu").eval()
        if model.spec.scorer == "target_attention":
            self.model.scorer = _TracedTargetAttention(self.model.scorer)
        for module in self.model.modules():
            for name, child in module.named_children():
                if isinstance(child, nn.MultiheadAttention):
                    setattr(module, name, _TracedSelfAttention(child))
        self.num_items = model.num_items
        self.k = min(k, model.num_items)
        self.max_clicks = longest_prefix(model)

    def latest_clicks(self, items: Tensor) -> Tensor:
        """Each row's last ``max_clicks`` clicks, left-aligned, as :class:`~sbrzoo.recommend.Recommender`
        reads them: (B, L) -> (B, min(L, max_clicks)); unchanged without a positional table."""
        if self.max_clicks is None:
            return items
        start = ((items > 0).sum(dim=1) - self.max_clicks).clamp(min=0)
        columns = start[:, None] + torch.arange(items.shape[1], device=items.device)[None, :]
        return torch.cat([items, torch.zeros_like(items)], dim=1).gather(1, columns)[:, :self.max_clicks]

    def batch(self, items: Tensor) -> SessionBatch:
        """The :class:`SessionBatch` the collator builds for these sessions, from tensor operations only
        (one extra node, item 0, takes the padding's clicks and a self-loop: it touches no session)."""
        items = self.latest_clicks(items)
        batch_size, width = items.shape
        items = torch.cat([items, items.new_zeros(batch_size, 1)], dim=1)  # padding in every batch
        mask = items > 0
        lengths = mask.sum(dim=1)
        sessions = torch.arange(batch_size, device=items.device)
        stride = self.num_items + 1
        key = torch.where(mask, sessions[:, None] * stride + items, batch_size * stride)
        unique_keys, inverse = torch.unique(key.flatten(), sorted=True, return_inverse=True)
        inverse = inverse.view(batch_size, width + 1)
        num_nodes = unique_keys.shape[0]
        node_items, node_session = unique_keys % stride, unique_keys // stride
        padding_node = num_nodes - 1
        pairs = torch.unique(torch.where(mask[:, 1:], inverse[:, :-1] * num_nodes + inverse[:, 1:],
                                         padding_node * num_nodes + padding_node).flatten(), sorted=True)
        src, dst = pairs // num_nodes, pairs % num_nodes
        ones = torch.ones_like(src, dtype=torch.float32)
        in_degree = torch.zeros(num_nodes, device=items.device).index_add_(0, dst, ones)
        out_degree = torch.zeros(num_nodes, device=items.device).index_add_(0, src, ones)
        per_session = sessions[:, None]
        graph = _TracedGraph(src, dst, (node_session[None, :] == per_session).sum(dim=1),
                             (node_session[src][None, :] == per_session).sum(dim=1), num_nodes=num_nodes)
        graph.edata = {"in_weight": 1.0 / in_degree[dst], "out_weight": 1.0 / out_degree[src]}
        seq_nodes = torch.where(mask, inverse, -1)[:, :width]
        return _TracedBatch(
            graphs={"session": graph}, node_items=node_items, batch_num_nodes=graph.batch_num_nodes(),
            seq_nodes=seq_nodes, seq_items=items[:, :width], lengths=lengths,
            last_node=seq_nodes[sessions, lengths - 1], targets=None, extras={"padding_slots": width - lengths},
        )

    def forward(self, items: Tensor) -> tuple[Tensor, Tensor]:
        scores, columns = torch.topk(self.model(self.batch(items)), self.k, dim=1)
        return scores, columns + 1


def pad_sessions(sessions: Sequence[Sequence[int]]) -> Tensor:
    """Sessions of sbrzoo ids as the program's ``items`` input: (B, longest) int64, right-padded with 0."""
    width = max((len(s) for s in sessions), default=0)
    items = torch.zeros(len(sessions), width, dtype=torch.long)
    for row, session in enumerate(sessions):
        items[row, :len(session)] = torch.as_tensor(list(session), dtype=torch.long)
    return items


@dataclass(frozen=True)
class ExportInfo:
    """What :func:`export_run` wrote.

    Attributes:
        path: The program file.
        format: ``"torchscript"`` or ``"onnx"``.
        model, epoch, num_items, k: The run's model, its selected epoch, ``N`` and the top-k returned.
        inputs, outputs: Name -> shape and meaning of the program's tensors.
        item_map: The dataset's ``item_map.tsv`` (raw id of every sbrzoo id), None when the ids are raw.
    """

    path: Path
    format: str
    model: str
    epoch: int
    num_items: int
    k: int
    inputs: dict[str, str]
    outputs: dict[str, str]
    item_map: Path | None

    def to_dict(self) -> dict[str, Any]:
        record = dataclasses.asdict(self)
        record["path"], record["item_map"] = str(self.path), self.item_map and str(self.item_map)
        return record


def export_run(run: Any, fmt: str, out: Path, *, k: int = 20, overwrite: bool = False,  # noqa: ANN401 - LoadedRun
               example: Tensor | None = None) -> ExportInfo:
    """Trace ``run``'s model into ``out`` as a TorchScript or ONNX program (written atomically).

    Args:
        run: A :class:`~sbrzoo.experiment.LoadedRun` (any device and backend: the export runs on the CPU).
        fmt: One of :data:`EXPORT_FORMATS`.
        out: The file to write.
        k: Items the program returns per session.
        overwrite: Replace ``out`` if it exists.
        example: The ``items`` traced (default: the first test prefixes); only its values matter for the
            trace, not its shape.

    Raises:
        ConfigError: the model cannot be exported (why, in one line), ``fmt`` or ``k`` is invalid, ``out``
            exists without ``overwrite``, or ONNX export lacks the ``onnx`` package.
    """
    from sbrzoo.data.pickles import atomic_write_bytes

    if fmt not in EXPORT_FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")
    if k < 1:
        raise ConfigError(f"k must be at least 1, got {k}")
    check_exportable(run.model.spec)
    out = Path(out)
    refuse_to_replace(out, overwrite)
    program = PaddedSessionProgram(run.model, k).eval()
    if example is None:
        test = run.dataset.test
        example = pad_sessions([test.prefix(i) for i in range(min(len(test), 64))])
    buffer = io.BytesIO()
    if fmt == "torchscript":
        with torch.no_grad(), _quiet_tracer():
            torch.jit.save(torch.jit.trace(program, (example,), check_trace=False), buffer)
    else:
        _onnx_export(program, example, buffer)
    atomic_write_bytes(out, buffer.getvalue())
    return ExportInfo(
        path=out, format=fmt, model=run.config.model, epoch=run.epoch, num_items=run.dataset.num_items, k=program.k,
        inputs={"items": "(B, L) int64: sbrzoo item ids 1..N of each session, oldest first, right-padded with 0"},
        outputs={"scores": f"(B, {program.k}) float32: scores of the best items, best first",
                 "item_ids": f"(B, {program.k}) int64: their sbrzoo ids 1..N"},
        item_map=_item_map_file(run.dataset),
    )


def load_program(path: Path, fmt: str):  # noqa: ANN201 - (items) -> (scores, item_ids), numpy
    """Run a written program: a function of a (B, L) int64 array returning numpy ``(scores, item_ids)``,
    through ``torch.jit.load`` (TorchScript) or onnxruntime (ONNX).

    Raises:
        ConfigError: ONNX without the ``onnxruntime`` package.
    """
    import numpy as np

    if fmt == "torchscript":
        program = torch.jit.load(str(path), map_location="cpu")

        def run_torchscript(items: Any) -> tuple[Any, Any]:  # noqa: ANN401 - array-like
            with torch.no_grad():
                scores, ids = program(torch.as_tensor(np.asarray(items), dtype=torch.long))
            return scores.numpy(), ids.numpy()

        return run_torchscript
    try:
        import onnxruntime
    except ImportError:
        raise ConfigError('running ONNX programs needs onnxruntime: pip install -e ".[export]"') from None
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return lambda items: tuple(session.run(list(OUTPUT_NAMES), {"items": np.asarray(items, dtype=np.int64)}))


def check_program(run: Any, path: Path, fmt: str, *, count: int = 500,  # noqa: ANN401 - LoadedRun
                  batch_size: int = 100) -> dict[str, Any]:
    """Run the program in ``path`` on the first ``count`` test prefixes (``batch_size`` at a time) and
    compare its top-k with the PyTorch model's on the same batches.

    A session passes when the program's k scores equal PyTorch's top-k scores and PyTorch scores each
    of the program's k ids as the program does (both to 1e-5): so ids may differ from PyTorch's only
    where their scores tie, and a wrong id fails even when its score is right.

    Returns:
        ``{"sessions", "k", "tied_sessions", "max_score_difference"}``: tied sessions pass with other
        ids than PyTorch's (among tied scores).

    Raises:
        DataError: the program's top-k differs from PyTorch's beyond ties.
    """
    import numpy as np

    from sbrzoo.errors import DataError
    from sbrzoo.experiment import evaluation_loader

    program = load_program(path, fmt)
    config = dataclasses.replace(run.config, device="cpu", backend="torch", eval_batch_size=batch_size)
    examples = run.dataset.test.subset(np.arange(min(count, len(run.dataset.test))))
    model = run.model.to("cpu").eval()
    tied = wrong = done = 0
    largest, k = 0.0, None
    for start, batch in zip(range(0, len(examples), batch_size),
                            evaluation_loader(config, examples, run.dataset.num_items), strict=True):
        scores, ids = program(pad_sessions([examples.prefix(i) for i in range(start, start + batch.batch_size)]))
        k = ids.shape[1]
        with torch.no_grad():
            every = model(batch).numpy()  # (B, N): the score of item id i + 1 in column i
        want = torch.topk(torch.from_numpy(every), k, dim=1)
        want_scores, want_ids = want.values.numpy(), want.indices.numpy() + 1
        largest = max(largest, float(np.abs(scores - want_scores).max()))
        known = (ids >= 1) & (ids <= every.shape[1])
        scored = np.take_along_axis(every, np.where(known, ids, 1) - 1, axis=1)  # PyTorch's scores of its ids
        right = (known.all(axis=1) & np.isclose(scores, want_scores, atol=1e-5, rtol=1e-5).all(axis=1)
                 & np.isclose(scored, scores, atol=1e-5, rtol=1e-5).all(axis=1)
                 & (np.diff(np.sort(ids, axis=1), axis=1) != 0).all(axis=1))  # no id twice
        ties = right & (ids != want_ids).any(axis=1)
        tied, wrong, done = tied + int(ties.sum()), wrong + int((~right).sum()), done + len(ids)
    if wrong:
        raise DataError(f"{path}: the program's top-{k} differs from PyTorch's on {wrong} of {done} test prefixes")
    return {"sessions": done, "k": k, "tied_sessions": tied, "max_score_difference": largest}


def _item_map_file(dataset: Any) -> Path | None:  # noqa: ANN401 - SessionDataset
    from sbrzoo.data.extras import ITEM_MAP_FILE
    from sbrzoo.recommend import dataset_folder

    folder = dataset_folder(dataset)
    return folder / ITEM_MAP_FILE if folder is not None and (folder / ITEM_MAP_FILE).is_file() else None


@contextmanager
def _quiet_tracer():  # noqa: ANN202
    """Silence the tracer's warnings about Python values: the program's shapes are all read from tensors
    (the export test runs the trace on other shapes and compares)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=".*index_add.*")  # repeated indices: see _onnx_export
        warnings.filterwarnings("ignore", message=".*negative values.*")  # indices are never negative
        # the GRU's zero initial state is not baked in: the tests run ONNX programs on other batch sizes
        warnings.filterwarnings("ignore", message=".*batch_size other than 1.*GRU.*")
        yield


def _onnx_export(program: nn.Module, example: Tensor, buffer: io.BytesIO) -> None:
    """ONNX through the TorchScript exporter, with the conversions of :data:`_ONNX_SYMBOLICS` (operators it
    lacks, or converts wrongly)."""
    try:
        import onnx  # noqa: F401 - torch.onnx needs it to serialise
    except ImportError:
        raise ConfigError('ONNX export needs the onnx package: pip install -e ".[export]"') from None

    for name, symbolic in _ONNX_SYMBOLICS.items():
        torch.onnx.register_custom_op_symbolic(name, symbolic, ONNX_OPSET)
    try:
        with torch.no_grad(), _quiet_tracer():
            torch.onnx.export(
                program, (example,), buffer, input_names=list(INPUT_NAMES), output_names=list(OUTPUT_NAMES),
                dynamic_axes={"items": {0: "batch", 1: "clicks"}, "scores": {0: "batch"},
                              "item_ids": {0: "batch"}},
                opset_version=ONNX_OPSET, do_constant_folding=True,
            )
    finally:
        for name in _ONNX_SYMBOLICS:
            torch.onnx.unregister_custom_op_symbolic(name, ONNX_OPSET)


def _index_add(g: Any, self: Any, dim: Any, index: Any, source: Any, alpha: Any = None) -> Any:  # noqa: ANN401
    """``index_add`` as ScatterElements(reduction="add"): the built-in conversion drops repeated indices,
    which every graph has."""
    axis = symbolic_helper._get_const(dim, "i", "dim")
    index = symbolic_helper._unsqueeze_helper(g, index, [1]) if symbolic_helper._get_tensor_rank(source) == 2 else index
    indices = g.op("Expand", index, g.op("Shape", source))
    return g.op("ScatterElements", self, indices, source, axis_i=axis, reduction_s="add")


def _logaddexp(g: Any, a: Any, b: Any) -> Any:  # noqa: ANN401
    """``logaddexp(a, b) = m + log(exp(a - m) + exp(b - m))`` with ``m = max(a, b)``, taken as 0 where it is
    infinite (both -inf: -inf, not nan); the exporter has no conversion of its own (RepeatNet's mixture)."""
    peak = g.op("Max", a, b)
    shift = g.op("Where", g.op("IsInf", peak), g.op("CastLike", g.op("Constant", value_t=torch.tensor(0.0)), peak),
                 peak)
    exp_a, exp_b = g.op("Exp", g.op("Sub", a, shift)), g.op("Exp", g.op("Sub", b, shift))
    return g.op("Add", shift, g.op("Log", g.op("Add", exp_a, exp_b)))


def _where(g: Any, condition: Any, self: Any, other: Any) -> Any:  # noqa: ANN401
    """``torch.where(condition, float_tensor, python_float)`` (either way round) with the number cast to the
    tensor's type, as torch promotes it: the built-in conversion leaves it a double, which a float32
    tensor's ONNX Where refuses."""
    def number_beside(number: Any, tensor: Any) -> bool:  # noqa: ANN401
        rank = symbolic_helper._get_tensor_rank(number)
        return rank == 0 and symbolic_helper._is_fp(number) and symbolic_helper._is_fp(tensor)

    if number_beside(other, self):
        other = g.op("CastLike", other, self)
    elif number_beside(self, other):
        self = g.op("CastLike", self, other)
    if not symbolic_helper._is_bool(condition):
        condition = g.op("Cast", condition, to_i=torch.onnx.TensorProtoDataType.BOOL)
    return g.op("Where", condition, self, other)


@symbolic_helper.parse_args("v", "i", "v", "v", "s", "b")
def _scatter_reduce(g: Any, self: Any, dim: int, index: Any, source: Any, reduce: str,  # noqa: ANN401
                    include_self: bool) -> Any:  # noqa: ANN401
    """``scatter_reduce`` as one ScatterElements: the built-in conversion wraps it in an If for a rank-0
    input, whose 1-D branch makes onnxruntime warn on every run. ``"amax"`` (RepeatNet's repeat decoder)
    becomes reduction="max", which ONNX names from opset 18 and onnxruntime runs at opset 17 too (that
    maximum only keeps a per-item log-sum-exp in range; the sum does not depend on it)."""
    reductions = {"sum": "add", "prod": "mul", "amax": "max", "amin": "min"}
    if reduce not in reductions or not include_self:
        return symbolic_helper._unimplemented("scatter_reduce", f"reduce={reduce!r}, include_self={include_self}")
    return g.op("ScatterElements", self, index, source, axis_i=dim, reduction_s=reductions[reduce])


#: Operator -> ONNX conversion registered for the export.
_ONNX_SYMBOLICS = {"aten::index_add": _index_add, "aten::logaddexp": _logaddexp, "aten::where": _where,
                   "aten::scatter_reduce": _scatter_reduce}
