"""Ready-made parametrizations (``torch.nn.utils.parametrizations``): weight normalisation."""

from __future__ import annotations

from ...tensor import Tensor
from ..modules.module import Module
from .parametrize import register_parametrization
from .weight_norm import norm_except_dim, weight_norm_value

__all__ = ["weight_norm"]


class _WeightNorm(Module):
    """``weight = weight_v * (weight_g / ||weight_v||)``, the norm over every dim but ``dim``
    (over all of it for ``dim=None``, stored as -1)."""

    def __init__(self, dim: int | None = 0) -> None:
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g: Tensor, weight_v: Tensor) -> Tensor:
        return weight_norm_value(weight_v, weight_g, self.dim)

    def right_inverse(self, weight: Tensor) -> tuple[Tensor, Tensor]:
        return norm_except_dim(weight, 2, self.dim), weight


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """Weight-normalise ``module.<name>``: its magnitude becomes
    ``parametrizations.<name>.original0`` (g) and its direction ``original1`` (v), the
    state_dict keys of PyTorch; a checkpoint of the hook-based ``weight_norm``
    (``<name>_g``, ``<name>_v``) loads too."""
    register_parametrization(module, name, _WeightNorm(dim), unsafe=True)
    module.parametrizations[name].legacy_state_keys = {f"{name}_g": "original0", f"{name}_v": "original1"}
    return module
