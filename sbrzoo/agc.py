"""Adaptive Gradient Clipping (Brock et al., NFNets, 2021): the intended algorithm (docs/MODELS.md §4.4)."""

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
    with_grads = [(p, p.grad) for p in parameters if p.grad is not None]
    if not with_grads:
        return
    parameters, grads = [p for p, _ in with_grads], [g for _, g in with_grads]
    # min(1, limit / ||G||) is the rule above; the list ops launch one kernel per list, not per tensor
    limits = torch._foreach_clamp_min([unitwise_norm(p) for p in parameters], eps)
    torch._foreach_mul_(limits, clipping)
    grad_norms = torch._foreach_clamp_min([unitwise_norm(g) for g in grads], 1e-6)
    scales = torch._foreach_div(limits, grad_norms)
    torch._foreach_clamp_max_(scales, 1.0)
    torch._foreach_mul_(grads, scales)
