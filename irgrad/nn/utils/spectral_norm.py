"""Spectral normalisation, the hook-based API (``torch.nn.utils.spectral_norm``).

``spectral_norm(module)`` divides ``module.weight`` by its largest singular value
``sigma``, estimated by power iteration: ``weight`` becomes ``weight_orig`` (the
parameter) with buffers ``weight_u`` and ``weight_v`` (the singular vectors' estimates),
and a forward pre-hook recomputes ``weight = weight_orig / (u . (W v))`` before every
call, taking ``n_power_iterations`` steps first in training mode.  The weight is seen as
a matrix with ``dim`` (0, or 1 for transposed convolutions) as its rows.
:func:`irgrad.nn.utils.parametrizations.spectral_norm` has the current API; both share
the helpers here.  The singular vectors start from irgrad's generator, so they differ
from PyTorch's draws (docs/pytorch-differences.md).
"""

from __future__ import annotations

from typing import Any

from ...creation import empty
from ...recording.grad_mode import no_grad
from ...tensor import Tensor
from ..functional import normalize
from ..modules.conv import ConvTranspose1d, ConvTranspose2d
from ..modules.module import Module
from ..parameter import Parameter, UninitializedParameter

__all__ = ["spectral_norm", "remove_spectral_norm", "SpectralNorm"]


def weight_matrix(weight: Tensor, dim: int) -> Tensor:
    """``weight`` as a matrix whose rows run along ``dim``."""
    if dim != 0:
        weight = weight.permute(dim, *[d for d in range(weight.dim()) if d != dim])
    return weight.reshape(weight.shape[0], -1)


def unit_vector(length: int, like: Tensor, eps: float) -> Tensor:
    """A random unit vector (normal draws, normalised) in ``like``'s dtype."""
    return normalize(empty(length, dtype=like.dtype).normal_(0, 1), dim=0, eps=eps)


def power_iteration(matrix: Tensor, u: Tensor, v: Tensor, steps: int, eps: float, v_first: bool) -> None:
    """``steps`` rounds of power iteration on the singular vectors' estimates, in place:
    ``u <- normalize(W v)`` and ``v <- normalize(W^T u)``, ``v`` first in the hook API,
    ``u`` first in the parametrization (PyTorch's two orders)."""
    with no_grad():
        for _ in range(steps):
            if v_first:
                v.copy_(normalize(matrix.t().mv(u), dim=0, eps=eps))
            u.copy_(normalize(matrix.mv(v), dim=0, eps=eps))
            if not v_first:
                v.copy_(normalize(matrix.t().mv(u), dim=0, eps=eps))


def default_dim(module: Module) -> int:
    """The weight's output dim: 1 for a transposed convolution, else 0."""
    return 1 if isinstance(module, (ConvTranspose1d, ConvTranspose2d)) else 0


class SpectralNorm:
    """The forward pre-hook that recomputes ``module.<name>`` from ``<name>_orig``, ``_u`` and ``_v``."""

    def __init__(
        self, name: str = "weight", n_power_iterations: int = 1, dim: int = 0, eps: float = 1e-12
    ) -> None:
        if n_power_iterations <= 0:
            raise ValueError(
                f"Expected n_power_iterations to be positive, but got n_power_iterations={n_power_iterations}"
            )
        self.name, self.n_power_iterations, self.dim, self.eps = name, n_power_iterations, dim, eps

    def compute_weight(self, module: Module, do_power_iteration: bool) -> Tensor:
        weight = getattr(module, self.name + "_orig")
        u, v = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        matrix = weight_matrix(weight, self.dim)
        if do_power_iteration:
            power_iteration(matrix, u, v, self.n_power_iterations, self.eps, v_first=True)
            # the buffers change in the next step: the gradient reads these values
            u, v = u.clone(), v.clone()
        return weight / u.dot(matrix.mv(v))

    def remove(self, module: Module) -> None:
        with no_grad():
            weight = self.compute_weight(module, do_power_iteration=False)
        for suffix in ("", "_u", "_v", "_orig"):
            delattr(module, self.name + suffix)
        module.register_parameter(self.name, Parameter(weight.detach()))

    def __call__(self, module: Module, inputs: Any) -> None:
        setattr(module, self.name, self.compute_weight(module, do_power_iteration=module.training))

    @staticmethod
    def apply(module: Module, name: str, n_power_iterations: int, dim: int, eps: float) -> SpectralNorm:
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, SpectralNorm) and hook.name == name:
                raise RuntimeError(f"Cannot register two spectral_norm hooks on the same parameter {name}")
        fn = SpectralNorm(name, n_power_iterations, dim, eps)
        weight = module._parameters[name]
        if isinstance(weight, UninitializedParameter):
            raise ValueError(
                "The module passed to `SpectralNorm` can't have uninitialized parameters. Make sure to run the "
                "dummy forward before applying spectral normalization"
            )
        with no_grad():
            rows, columns = weight_matrix(weight, dim).shape
            u, v = unit_vector(rows, weight, eps), unit_vector(columns, weight, eps)
        delattr(module, name)
        module.register_parameter(name + "_orig", weight)
        setattr(module, name, weight.data)
        module.register_buffer(name + "_u", u)
        module.register_buffer(name + "_v", v)
        module.register_forward_pre_hook(fn)
        return fn


def spectral_norm(
    module: Module,
    name: str = "weight",
    n_power_iterations: int = 1,
    eps: float = 1e-12,
    dim: int | None = None,
) -> Module:
    """Divide ``module.<name>`` by its spectral norm before every call (see the module doc)."""
    SpectralNorm.apply(module, name, n_power_iterations, default_dim(module) if dim is None else dim, eps)
    return module


def remove_spectral_norm(module: Module, name: str = "weight") -> Module:
    """Undo :func:`spectral_norm`: ``<name>`` becomes a parameter holding the normalised weight."""
    for key, hook in module._forward_pre_hooks.items():
        if isinstance(hook, SpectralNorm) and hook.name == name:
            hook.remove(module)
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(f"spectral_norm of '{name}' not found in {module}")
