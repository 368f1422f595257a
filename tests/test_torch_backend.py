"""Torch inputs keep autograd, dtype and device, and broadcast like NumPy inputs."""

import numpy as np
import pytest
import torch

from geomalg import Algebra


def test_gradcheck_geometric_product():
    algebra = Algebra(2, 1, 0)
    a = torch.randn(3, 8, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(algebra.geometric_product, (a, b))


def test_gradcheck_split_kernel():
    algebra = Algebra(4, 1, 0)
    a = torch.randn(2, 32, dtype=torch.float64, requires_grad=True)
    b = torch.randn(2, 32, dtype=torch.float64, requires_grad=True)
    assert "mode:       split" in algebra.kernel("geometric_product", backend="torch").__doc__
    assert torch.autograd.gradcheck(algebra.geometric_product, (a, b))


def test_gradcheck_table_kernel():
    algebra = Algebra(4, 1, 0)
    a = torch.randn(2, 32, dtype=torch.float64, requires_grad=True)
    b = torch.randn(2, 32, dtype=torch.float64, requires_grad=True)
    product = lambda x, y: algebra.geometric_product(x, y, grades=((0, 2, 4), None))
    assert "mode:       table" in algebra.kernel("geometric_product", (0, 2, 4), None, backend="torch").__doc__
    assert torch.autograd.gradcheck(product, (a, b))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_dtype_is_preserved(dtype):
    algebra = Algebra(3)
    a = torch.randn(4, 8).to(dtype)
    assert algebra.geometric_product(a, a).dtype == dtype
    assert algebra.reverse(a).dtype == dtype


def test_mixed_precision_promotes():
    algebra = Algebra(3)
    a = torch.randn(4, 8, dtype=torch.float32)
    b = torch.randn(4, 8, dtype=torch.float64)
    assert algebra.geometric_product(a, b).dtype == torch.float64


def test_torch_matches_numba():
    algebra = Algebra(3, 0, 1)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((5, 16))
    b = rng.standard_normal((16,))
    result = algebra.geometric_product(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    assert np.abs(result - algebra.geometric_product(a, b)).max() <= 1e-12


def test_numpy_operand_joins_tensor():
    algebra = Algebra(2)
    a = torch.randn(3, 4, dtype=torch.float64)
    b = np.ones(4)
    assert isinstance(algebra.outer_product(a, b), torch.Tensor)


def test_norm_has_gradient():
    algebra = Algebra(3)
    a = torch.randn(8, dtype=torch.float64, requires_grad=True)
    algebra.norm(a).backward()
    assert torch.isfinite(a.grad).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_product_stays_on_device():
    algebra = Algebra(4, 1, 0)
    a = torch.randn(3, 32, device="cuda")
    result = algebra.geometric_product(a, a)
    assert result.device.type == "cuda"
    expected = algebra.geometric_product(a.cpu().double(), a.cpu().double())
    assert (result.cpu().double() - expected).abs().max() <= 1e-4
