"""Fast Walsh–Hadamard transform (FWHT) for torch tensors.

The transform is the orthonormal Sylvester–Hadamard matrix
:math:`H_d = H_2^{\\otimes \\log_2 d} / \\sqrt{d}` with
:math:`H_2 = \\begin{pmatrix} 1 & 1 \\\\ 1 & -1 \\end{pmatrix}`, in natural
(Sylvester) order, applied to the last axis.  :math:`H_d` is symmetric and its
own inverse, so the backward pass is the same transform applied to the
gradient.
"""

from __future__ import annotations

import math

import torch

try:
    import fast_hadamard_transform as _cuda_fwht
except ImportError:
    _cuda_fwht = None

# Dtypes that the fast-hadamard-transform CUDA kernel accepts.
# NOTE: this CUDA path has not been run, because no CUDA device with the
# package was available, so the dtype list is unverified.
_CUDA_KERNEL_DTYPES = (torch.float32, torch.float16, torch.bfloat16)

__all__ = ["fwht", "is_power_of_two", "next_power_of_two"]


def is_power_of_two(value: int) -> bool:
    """Return whether ``value`` is a positive integral power of two."""
    return value > 0 and value & (value - 1) == 0


def next_power_of_two(value: int) -> int:
    """Return the smallest power of two that is at least ``value`` (``value >= 1``)."""
    if value < 1:
        raise ValueError(f"next_power_of_two needs a positive integer, got {value}")
    return 1 << (value - 1).bit_length()


def _butterfly_fwht(x: torch.Tensor) -> torch.Tensor:
    """Apply the normalised transform with log2(d) butterfly stages in torch."""
    dim = x.shape[-1]
    batch_shape = x.shape[:-1]
    if x.numel() == 0:
        return x.clone()
    source = x.reshape(-1, dim)
    # Stages alternate between two scratch buffers, so the input is never
    # written and no stage allocates.
    buffers = [torch.empty_like(source, memory_format=torch.contiguous_format) for _ in range(2)]
    half = 1
    stage = 0
    while half < dim:
        # View the axis as (block pairs, 2, half): each stage maps a block
        # pair (a, b) to (a + b, a - b), so d additions per stage.
        pairs = source.reshape(-1, dim // (2 * half), 2, half)
        target = buffers[stage % 2]
        target_pairs = target.view(-1, dim // (2 * half), 2, half)
        torch.add(pairs[:, :, 0, :], pairs[:, :, 1, :], out=target_pairs[:, :, 0, :])
        torch.sub(pairs[:, :, 0, :], pairs[:, :, 1, :], out=target_pairs[:, :, 1, :])
        source = target
        half *= 2
        stage += 1
    out = source * (1.0 / math.sqrt(dim))
    return out.view(*batch_shape, dim)


class _FWHTFunction(torch.autograd.Function):
    """Autograd wrapper that keeps no intermediates: the backward is the transform itself."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return _butterfly_fwht(x)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> torch.Tensor:
        # Calling through the Function again records the backward for
        # double differentiation when create_graph=True.
        return _FWHTFunction.apply(grad_output)


def fwht(x: torch.Tensor) -> torch.Tensor:
    """Apply the orthonormal fast Walsh–Hadamard transform along the last axis.

    Computes :math:`y = H_d x` with :math:`H_d = H_2^{\\otimes k} / \\sqrt{d}`,
    :math:`d = 2^k`, in :math:`O(d \\log d)` operations, never forming the
    dense matrix.  The CUDA kernel of the ``fast-hadamard-transform`` package
    is used when that package is importable and ``x`` is a float32, float16
    or bfloat16 tensor on a CUDA device.
    Otherwise a differentiable torch butterfly runs.

    Parameters
    ----------
    x : torch.Tensor
        Floating-point tensor of shape ``(..., d)`` with ``d`` a power of two.

    Returns
    -------
    torch.Tensor
        Shape ``(..., d)``, same dtype and device as ``x``.

    Raises
    ------
    TypeError
        If ``x`` is not a floating-point tensor.
    ValueError
        If the last axis length is not a power of two.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"fwht needs a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"fwht needs a floating-point tensor, got dtype {x.dtype}")
    if x.dim() == 0 or not is_power_of_two(x.shape[-1]):
        length = None if x.dim() == 0 else x.shape[-1]
        raise ValueError(f"fwht needs a last axis whose length is a power of two, got {length}. "
                         "Zero-pad the input to the next power of two first")
    if x.is_cuda and _cuda_fwht is not None and x.dtype in _CUDA_KERNEL_DTYPES:
        return _cuda_fwht.hadamard_transform(x.contiguous(), 1.0 / math.sqrt(x.shape[-1]))
    return _FWHTFunction.apply(x)
