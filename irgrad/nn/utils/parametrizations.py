"""Ready-made parametrizations (``torch.nn.utils.parametrizations``): weight normalisation
and spectral normalisation."""

from __future__ import annotations

from ...recording.grad_mode import no_grad
from ...tensor import Tensor
from ..functional import normalize
from ..modules.module import Module
from .parametrize import register_parametrization
from .spectral_norm import default_dim, power_iteration, unit_vector, weight_matrix
from .weight_norm import norm_except_dim, weight_norm_value

__all__ = ["weight_norm", "spectral_norm"]


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


class _SpectralNorm(Module):
    """``weight / sigma``, ``sigma`` the largest singular value of ``weight`` seen as a
    matrix with rows along ``dim``, estimated by power iteration on the buffers ``_u`` and
    ``_v`` (15 steps when made, ``n_power_iterations`` per call in training mode); a 1-D
    weight is simply normalised."""

    def __init__(self, weight: Tensor, n_power_iterations: int = 1, dim: int = 0, eps: float = 1e-12) -> None:
        super().__init__()
        ndim = weight.ndim
        if dim >= ndim or dim < -ndim:
            raise IndexError(
                f"Dimension out of range (expected to be in range of [-{ndim}, {ndim - 1}] but got {dim})"
            )
        if n_power_iterations <= 0:
            raise ValueError(
                f"Expected n_power_iterations to be positive, but got n_power_iterations={n_power_iterations}"
            )
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            matrix = weight_matrix(weight, self.dim)
            with no_grad():
                self.register_buffer("_u", unit_vector(matrix.shape[0], weight, eps))
                self.register_buffer("_v", unit_vector(matrix.shape[1], weight, eps))
            self._power_method(matrix, 15)

    def _power_method(self, matrix: Tensor, n_power_iterations: int) -> None:
        power_iteration(matrix, self._u, self._v, n_power_iterations, self.eps, v_first=False)

    def forward(self, weight: Tensor) -> Tensor:
        if weight.ndim == 1:
            return normalize(weight, dim=0, eps=self.eps)
        matrix = weight_matrix(weight, self.dim)
        if self.training:
            self._power_method(matrix, self.n_power_iterations)
        u, v = self._u.clone(), self._v.clone()  # (the buffers change in the next step)
        return weight / u.dot(matrix.mv(v))

    def right_inverse(self, value: Tensor) -> Tensor:
        return value


def spectral_norm(
    module: Module,
    name: str = "weight",
    n_power_iterations: int = 1,
    eps: float = 1e-12,
    dim: int | None = None,
) -> Module:
    """Spectrally normalise ``module.<name>``: its value divided by its largest singular
    value, re-estimated at every call in training mode (state_dict keys as PyTorch's:
    ``parametrizations.<name>.original``, ``...0._u``, ``...0._v``)."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    dim = default_dim(module) if dim is None else dim
    register_parametrization(module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module
