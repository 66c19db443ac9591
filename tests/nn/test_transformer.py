"""Transformer block masking: padded clicks are never attended; the causal mask hides later clicks."""

from __future__ import annotations

import pytest
import torch

from sbrzoo.nn.positional import PositionalEmbedding
from sbrzoo.nn.state import Widths
from sbrzoo.nn.transformer import TransformerBlock


def block(causal: bool = True) -> TransformerBlock:
    torch.manual_seed(0)
    return TransformerBlock(Widths(16, 16, 16), heads=4, dropout=0.0, causal=causal).eval()


@pytest.mark.parametrize("causal", [False, True])  # without the causal mask only the padding mask protects
def test_padding_never_attended(causal: bool) -> None:
    layer = block(causal)
    seq = torch.randn(2, 6, 16)
    mask = torch.tensor([[True] * 4 + [False] * 2, [True] * 6])
    changed = seq.clone()
    changed[0, 4:] = torch.randn(2, 16) * 100  # garbage in the padded slots of session 0
    out, out_changed = layer.encode(seq, mask), layer.encode(changed, mask)
    torch.testing.assert_close(out[0, :4], out_changed[0, :4])
    torch.testing.assert_close(out[1], out_changed[1])


def test_causal_mask_hides_later_clicks() -> None:
    layer = block()
    seq, mask = torch.randn(1, 5, 16), torch.ones(1, 5, dtype=torch.bool)
    changed = seq.clone()
    changed[0, 3] += 5.0
    out, out_changed = layer.encode(seq, mask), layer.encode(changed, mask)
    torch.testing.assert_close(out[0, :3], out_changed[0, :3])  # clicks before 3 do not see click 3
    assert not torch.allclose(out[0, 3:], out_changed[0, 3:])


def test_without_causal_mask_every_click_sees_the_session() -> None:
    layer = block(causal=False)
    seq, mask = torch.randn(1, 5, 16), torch.ones(1, 5, dtype=torch.bool)
    changed = seq.clone()
    changed[0, 4] += 5.0
    assert not torch.allclose(layer.encode(seq, mask)[0, 0], layer.encode(changed, mask)[0, 0])


def test_rejects_indivisible_heads() -> None:
    with pytest.raises(ValueError, match="8 heads do not divide the width 100"):
        TransformerBlock(Widths(100, 100, 100), heads=8)


def test_positional_embedding_adds_per_position_vectors() -> None:
    pe = PositionalEmbedding(Widths(4, 4, 4), max_positions=3)
    seq = torch.zeros(2, 3, 4)
    out = pe.add(seq)
    torch.testing.assert_close(out[0], pe.table.weight)
    torch.testing.assert_close(out[1], pe.table.weight)
    with pytest.raises(ValueError, match="4 clicks is longer than the 3 positions"):
        pe.add(torch.zeros(1, 4, 4))
