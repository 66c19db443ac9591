"""Reference fidelity reproduces the released code: parameter counts, padding and node attention."""

from __future__ import annotations

import pytest
import torch
from helpers import build_model, settings_for

from sbrzoo.data.collate import SessionCollator
from sbrzoo.data.examples import Examples
from sbrzoo.nn.node_attention import NodeSelfAttention
from sbrzoo.nn.readout import SoftAttentionReadout
from sbrzoo.nn.state import SessionState, Widths


def reference_model(name: str, dim: int, num_items: int = 43_097):
    return build_model(f"{name}_ref", num_items, "diginetica", dim=dim)


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
    settings, training = settings_for("tagnnpp_ref", "yoochoose1_64")
    assert (settings["dim"], settings["heads"], settings["hybrid"]) == (120, 2, False)
    assert (training.batch_size, training.lr, training.weight_decay, training.epochs, training.lr_step_offset) == (
        75, 1e-3, 1e-5, 30, 1)
    model = reference_model("tagnnpp", 100, 50)
    assert len(model.sequence_encoders) == 0  # no positional embedding, no Transformer over the clicks
    norm = model.node_encoders[1].norm
    assert not torch.allclose(norm.weight, torch.ones_like(norm.weight))  # uniform init overwrites LN (P11)


def test_readout_padding_emulation_equals_explicit_padding() -> None:
    torch.manual_seed(0)
    prefixes = [[5, 3, 7, 3, 9], [2, 2], [4]]
    batch = SessionCollator(Examples.from_lists(prefixes, [1, 1, 1]), 9, ("session",), "torch")(range(3))
    readout = SoftAttentionReadout(Widths(8, 8, 8), normalize=True, hybrid=True)
    seq_state = torch.randn(3, 5, 8) * batch.mask[..., None]
    pad_state = torch.randn(3, 8)
    split_len = 7
    slots = (split_len - batch.lengths).float()
    emulated = readout(batch, SessionState(nodes=None, clicks=seq_state, mask=batch.mask, padding=pad_state,
                                           padding_slots=slots))
    # explicit: positions past the prefix hold the padding node's state; the mask zeroes their values
    explicit = torch.zeros(3, 8)
    for b, length in enumerate(batch.lengths.tolist()):
        states = torch.cat([seq_state[b, :length], pad_state[b].expand(split_len - length, 8)])
        last = seq_state[b, length - 1]
        attention = readout.attention
        logits = attention.score(torch.sigmoid(attention.query(last) + attention.key(states))).squeeze(-1)
        alpha = torch.softmax(logits, 0)
        global_ = (alpha[:length, None] * states[:length]).sum(0)
        explicit[b] = readout.combine(torch.cat([global_, last]))
    torch.testing.assert_close(emulated, explicit, atol=1e-6, rtol=1e-5)


def test_node_attention_equals_the_code_layout() -> None:
    torch.manual_seed(0)
    block = NodeSelfAttention(Widths(8, 8, 8), heads=2, dropout=0.0).eval()
    counts = torch.tensor([4, 1, 2])
    node_state, pad_state = torch.randn(7, 8), torch.randn(3, 8)
    has_pad = torch.tensor([True, True, False])
    out_nodes, out_pad = block.attend(node_state, counts, pad_state, has_pad)
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
