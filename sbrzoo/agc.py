"""Adaptive Gradient Clipping (Brock et al., NFNets, 2021): the intended algorithm (MODELS.md §4.4)."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

__all__ = ["unitwise_norm", "adaptive_clip_"]


def unitwise_norm(tensor: Tensor) -> Tensor:
    """L2 norm per output unit: over every dimension but the first; a vector or scalar is one unit.

    Shapes:
        (out, ...) -> (out, 1, ..., 1) for tensors of 2+ dims; () for vectors and scalars.
    """
    if tensor.dim() <= 1:
        return tensor.norm(p=2)
    return tensor.norm(p=2, dim=tuple(range(1, tensor.dim())), keepdim=True)


@torch.no_grad()
def adaptive_clip_(parameters: Iterable[Tensor], clipping: float = 0.01, eps: float = 1e-3) -> None:
    r"""Clip gradients in place, unit by unit.

    For each unit with weights :math:`W_i` and gradient :math:`G_i`, with :math:`w = \max(\|W_i\|, \epsilon)`:
    if :math:`\|G_i\| > \lambda w` then :math:`G_i \leftarrow G_i\,\lambda w / \|G_i\|`; otherwise it is
    left unchanged. (The TAGNN++ reference code inverts the comparison; this is the published rule.)

    Args:
        parameters: Parameters whose ``.grad`` to clip (those without a gradient are skipped).
        clipping: The factor :math:`\lambda`.
        eps: The floor :math:`\epsilon` on weight norms.
    """
    for parameter in parameters:
        if parameter.grad is None:
            continue
        limit = unitwise_norm(parameter).clamp(min=eps) * clipping
        grad_norm = unitwise_norm(parameter.grad)
        scale = torch.where(grad_norm > limit, limit / grad_norm.clamp(min=1e-6), torch.ones_like(grad_norm))
        parameter.grad.mul_(scale)
