"""Adaptive Gradient Clipping clips exactly the units whose gradient/weight ratio exceeds the factor."""

from __future__ import annotations

import torch

from sbrzoo.agc import adaptive_clip_, unitwise_norm


def test_clips_only_units_over_the_limit() -> None:
    weight = torch.nn.Parameter(torch.tensor([[3.0, 4.0], [0.6, 0.8], [0.0, 0.0]]))  # unit norms 5, 1, 0
    weight.grad = torch.tensor([[0.03, 0.04], [0.3, 0.4], [1.0, 0.0]])  # grad norms 0.05, 0.5, 1
    adaptive_clip_([weight], clipping=0.1, eps=1e-3)
    # unit 0: 0.05 <= 0.1 * 5 -> unchanged
    torch.testing.assert_close(weight.grad[0], torch.tensor([0.03, 0.04]))
    # unit 1: 0.5 > 0.1 * 1 -> scaled to norm exactly 0.1
    torch.testing.assert_close(weight.grad[1].norm(), torch.tensor(0.1))
    torch.testing.assert_close(weight.grad[1] / weight.grad[1].norm(), torch.tensor([0.6, 0.8]))
    # unit 2: zero weights use eps: limit 0.1 * 1e-3
    torch.testing.assert_close(weight.grad[2].norm(), torch.tensor(1e-4))


def test_vectors_are_one_unit_and_missing_grads_are_skipped() -> None:
    bias = torch.nn.Parameter(torch.tensor([3.0, 4.0]))
    bias.grad = torch.tensor([30.0, 40.0])
    frozen = torch.nn.Parameter(torch.ones(3))
    adaptive_clip_([bias, frozen], clipping=0.01)
    torch.testing.assert_close(bias.grad, torch.tensor([0.03, 0.04]))
    assert frozen.grad is None


def test_unitwise_norm_reduces_all_but_first_dim() -> None:
    tensor = torch.ones(2, 3, 4)
    assert unitwise_norm(tensor).shape == (2, 1, 1)
    torch.testing.assert_close(unitwise_norm(tensor).flatten(), torch.full((2,), 12**0.5))


def test_clipping_a_list_equals_clipping_each_parameter_alone() -> None:
    generator = torch.Generator().manual_seed(0)
    shapes = [(6, 5), (7,), (3, 4, 2), (), (4, 4)]
    together = [torch.nn.Parameter(torch.randn(s, generator=generator)) for s in shapes]
    alone = [torch.nn.Parameter(p.detach().clone()) for p in together]
    for first, second in zip(together, alone):
        first.grad = torch.randn(first.shape, generator=generator) * torch.rand((), generator=generator)
        second.grad = first.grad.clone()
    original = [p.grad.clone() for p in together]
    adaptive_clip_(together, clipping=0.05)
    for parameter in alone:
        adaptive_clip_([parameter], clipping=0.05)
    for first, second in zip(together, alone):
        torch.testing.assert_close(first.grad, second.grad, rtol=0, atol=0)
    assert any(not torch.equal(p.grad, g) for p, g in zip(together, original))  # something was clipped
