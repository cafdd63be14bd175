"""``functional_call``: call a module with some of its parameters and buffers replaced,
as ``torch.func.functional_call`` (the mechanism is :mod:`irgrad.nn.utils.stateless`'s)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..nn.utils.stateless import call_args, reparametrized
from ..tensor import Tensor

__all__ = ["functional_call"]


def functional_call(
    module,
    parameter_and_buffer_dicts: dict[str, Tensor] | Sequence[dict[str, Tensor]],
    args: Any = None,
    kwargs: dict[str, Any] | None = None,
    *,
    tie_weights: bool = True,
    strict: bool = False,
) -> Any:
    """``module(*args, **kwargs)`` with the named tensors in place of its own, which are
    put back afterwards; tied weights are replaced under every name unless ``tie_weights=False``."""
    with reparametrized(module, parameter_and_buffer_dicts, tie_weights=tie_weights, strict=strict):
        return module(*call_args(args), **(kwargs or {}))
