"""nn.SyncBatchNorm in one process (no process group: BatchNorm) against torch's, and
convert_sync_batchnorm.  Across processes: tests/test_distributed.py."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import irgrad

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("shape", [(4, 3), (4, 3, 5), (2, 3, 4, 5), (2, 3, 2, 3, 2)])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_without_a_group_it_is_batch_norm_as_torchs(shape, momentum):
    data = np.random.default_rng(0).standard_normal((3, *shape))
    ours = irgrad.nn.SyncBatchNorm(3, momentum=momentum, dtype=irgrad.float64)
    theirs = torch.nn.SyncBatchNorm(3, momentum=momentum, dtype=torch.float64)
    for step in range(3):
        if step == 2:
            ours.eval(), theirs.eval()
        x, t = irgrad.tensor(data[step], requires_grad=True), torch.tensor(data[step], requires_grad=True)
        a, b = ours(x), theirs(t)
        (a * a).sum().backward()
        (b * b).sum().backward()
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-9, atol=1e-12)
    for name, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[name].numpy(), value.numpy(), rtol=1e-10, err_msg=name)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-9)


def test_input_checks_as_torchs():
    for lib in (irgrad, torch):
        with pytest.raises(ValueError, match=r"expected at least 2D input \(got 1D input\)"):
            lib.nn.SyncBatchNorm(3)(lib.ones(3))
        with pytest.raises(ValueError, match="number of input channels should be non-zero"):
            lib.nn.SyncBatchNorm(0)(lib.ones(2, 0))


def _model(lib):
    nn = lib.nn
    return nn.Sequential(
        nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Sequential(nn.Flatten(), nn.BatchNorm1d(8, affine=False))
    )


def test_convert_sync_batchnorm_replaces_every_batch_norm_keeping_its_tensors():
    model = _model(irgrad)
    model[1].eval()
    converted = irgrad.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    reference = torch.nn.SyncBatchNorm.convert_sync_batchnorm(_model(torch))
    assert [type(m).__name__ for m in converted.modules()] == [type(m).__name__ for m in reference.modules()]
    assert list(converted.state_dict()) == list(reference.state_dict())
    assert converted[1].weight is model[1].weight and converted[1].running_var is model[1].running_var
    assert not converted[1].training and converted[2][1].training
    assert repr(converted[2][1]) == repr(reference[2][1])
    lone = irgrad.nn.BatchNorm1d(4)
    assert type(irgrad.nn.SyncBatchNorm.convert_sync_batchnorm(lone)) is irgrad.nn.SyncBatchNorm


def test_compiled_without_a_group_equals_eager():
    irgrad.manual_seed(0)
    model = irgrad.nn.Sequential(irgrad.nn.Linear(4, 3), irgrad.nn.SyncBatchNorm(3))
    twin = copy.deepcopy(model)
    compiled = irgrad.compile(model)
    for _ in range(3):
        x = irgrad.randn(8, 4)
        np.testing.assert_allclose(
            compiled(x).detach().numpy(), twin(x).detach().numpy(), rtol=1e-5, atol=1e-6
        )
    for name, value in twin.state_dict().items():
        np.testing.assert_allclose(model.state_dict()[name].numpy(), value.numpy(), rtol=1e-5, err_msg=name)


def test_torchs_module_path_holds_the_batch_norms():
    """timm imports ``_BatchNorm`` and the layers from ``torch.nn.modules.batchnorm``."""
    from irgrad.nn.modules import batchnorm

    for name in ("_NormBase", "_BatchNorm", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm"):
        assert hasattr(torch.nn.modules.batchnorm, name) and hasattr(batchnorm, name), name
    assert issubclass(batchnorm.SyncBatchNorm, batchnorm._BatchNorm)
