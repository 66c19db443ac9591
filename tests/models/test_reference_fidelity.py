"""Reference fidelity reproduces the released code: parameter counts, padding and node attention."""

from __future__ import annotations

import pytest
import torch

from sbrzoo.data.collate import SessionCollator
from sbrzoo.data.examples import Examples
from sbrzoo.models import create_model, get_spec
from sbrzoo.nn.node_attention import NodeSelfAttention
from sbrzoo.nn.readout import SoftAttentionReadout
from sbrzoo.presets import resolve_hyperparameters


def reference_model(name: str, dim: int, num_items: int = 43_097):
    hp = resolve_hyperparameters(get_spec(name).family, "diginetica", {"fidelity": "reference", "dim": dim})
    return create_model(name, num_items, hp)


@pytest.mark.parametrize(
    ("name", "dim", "non_embedding"),
    [("srgnn", 100, 161_500), ("srgnn", 120, 232_200), ("tagnn", 120, 246_600), ("tagnnpp", 120, 304_920)],
)
def test_parameter_counts_match_models_md(name: str, dim: int, non_embedding: int) -> None:
    model = reference_model(name, dim)
    count = sum(p.numel() for n, p in model.named_parameters() if not n.startswith("embedding"))
    assert count == non_embedding


def test_tagnnpp_reference_total_parameters() -> None:
    assert sum(p.numel() for p in reference_model("tagnnpp", 100).parameters()) == 4_521_900


def test_reference_preset_is_the_released_code() -> None:
    hp = resolve_hyperparameters("tagnnpp", "yoochoose1_64", {"fidelity": "reference"})
    assert (hp.dim, hp.heads, hp.batch_size, hp.lr, hp.weight_decay, hp.epochs, hp.hybrid) == (
        120, 2, 75, 1e-3, 1e-5, 30, False)
    model = reference_model("tagnnpp", 100, 50)
    assert model.positional is None  # the released code has no positional embedding
    norm = model.transformer.norm
    assert not torch.allclose(norm.weight, torch.ones_like(norm.weight))  # uniform init overwrites LN (P11)


def test_readout_padding_emulation_equals_explicit_padding() -> None:
    torch.manual_seed(0)
    prefixes = [[5, 3, 7, 3, 9], [2, 2], [4]]
    batch = SessionCollator(Examples.from_lists(prefixes, [1, 1, 1]), 9, ("session",), "torch")(range(3))
    readout = SoftAttentionReadout(8, normalize=True, hybrid=True)
    seq_state = torch.randn(3, 5, 8) * batch.mask[..., None]
    pad_state = torch.randn(3, 8)
    split_len = 7
    slots = (split_len - batch.lengths).float()
    emulated = readout(batch, None, seq_state, padding_slots=slots, padding_state=pad_state)
    # explicit: positions past the prefix hold the padding node's state; the mask zeroes their values
    explicit = torch.zeros(3, 8)
    for b, length in enumerate(batch.lengths.tolist()):
        states = torch.cat([seq_state[b, :length], pad_state[b].expand(split_len - length, 8)])
        last = seq_state[b, length - 1]
        alpha = torch.softmax(readout.score(torch.sigmoid(readout.query(last) + readout.key(states))).squeeze(-1), 0)
        global_ = (alpha[:length, None] * states[:length]).sum(0)
        explicit[b] = readout.combine(torch.cat([global_, last]))
    torch.testing.assert_close(emulated, explicit, atol=1e-6, rtol=1e-5)


def test_node_attention_equals_the_code_layout() -> None:
    torch.manual_seed(0)
    block = NodeSelfAttention(8, 2, dropout=0.0).eval()
    counts = torch.tensor([4, 1, 2])
    node_state, pad_state = torch.randn(7, 8), torch.randn(3, 8)
    has_pad = torch.tensor([True, True, False])
    out_nodes, out_pad = block(node_state, counts, pad_state, has_pad)
    start = 0
    for b, count in enumerate(counts.tolist()):
        # the code's row: [padding node if padded] + nodes in id order, causal mask, no key padding
        rows = node_state[start : start + count]
        x = torch.cat([pad_state[b : b + 1], rows]) if has_pad[b] else rows
        causal = torch.ones(len(x), len(x), dtype=torch.bool).triu(1)
        y = block.attention(x[None], x[None], x[None], attn_mask=causal)[0][0] + block.norm(x)
        torch.testing.assert_close(out_nodes[start : start + count], y[-count:], atol=1e-6, rtol=1e-5)
        if has_pad[b]:
            torch.testing.assert_close(out_pad[b], y[0], atol=1e-6, rtol=1e-5)
        start += count


@pytest.mark.parametrize("name", ["tagnn", "tagnnpp"])
def test_reference_models_train_on_both_backends_alike(name: str) -> None:
    model = reference_model(name, 16, 30).eval()
    prefixes = [[5, 3, 7, 3, 9], [2, 2], [4], [1, 8, 1]]
    examples = Examples.from_lists(prefixes, [1, 2, 3, 4])
    outputs = []
    for backend in ("dgl", "torch"):
        batch = SessionCollator(examples, 30, ("session",), backend)(range(4))
        outputs.append(model(batch))
    assert torch.isfinite(outputs[0]).all()
    torch.testing.assert_close(outputs[0], outputs[1], atol=1e-5, rtol=1e-5)
