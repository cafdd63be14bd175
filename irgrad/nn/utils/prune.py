"""Pruning, as ``torch.nn.utils.prune``: zeroing a parameter's entries through a mask.

Pruning parameter ``name`` of a module moves the parameter to ``name_orig``, adds a
buffer ``name_mask`` (ones where entries are kept) and makes ``name`` a plain attribute
``name_orig * name_mask``, recomputed by a forward pre-hook (the pruning method itself)
before every call, so gradients reach ``name_orig`` only where the mask keeps entries.
Pruning again combines the masks: the new method chooses among the entries (or, for a
structured method, the channels) still kept.  :func:`remove` makes the pruning
permanent: ``name`` becomes a parameter again, holding the masked values.

The unstructured methods prune single entries (the smallest by absolute value, or at
random), the structured ones whole slices along ``dim`` (the smallest by their L``n``
norm, or at random), :func:`global_unstructured` the smallest entries over several
parameters together.  ``amount`` is a fraction of the entries (a float in [0, 1]) or
their number (an int).  Random choices draw from irgrad's generator (other numbers
than PyTorch's for a seed); ties between equal magnitudes are broken as irgrad's
``topk`` breaks them.
"""

from __future__ import annotations

import numbers
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any

import numpy as np

from ...creation import ones_like, rand
from ...recording.grad_mode import no_grad
from ...tensor import Tensor
from ..modules.module import Module
from .convert import parameters_to_vector

__all__ = [
    "BasePruningMethod",
    "CustomFromMask",
    "Identity",
    "L1Unstructured",
    "LnStructured",
    "PruningContainer",
    "RandomStructured",
    "RandomUnstructured",
    "custom_from_mask",
    "global_unstructured",
    "identity",
    "is_pruned",
    "l1_unstructured",
    "ln_structured",
    "random_structured",
    "random_unstructured",
    "remove",
]


def _check_amount(amount: Any) -> None:
    if not isinstance(amount, numbers.Real):
        raise TypeError(f"Invalid type for amount: {amount}. Must be int or float.")
    if (isinstance(amount, numbers.Integral) and amount < 0) or (
        not isinstance(amount, numbers.Integral) and not 0.0 <= float(amount) <= 1.0
    ):
        raise ValueError(
            f"amount={amount} should either be a float in the range [0, 1] or a non-negative integer"
        )


def _count_to_prune(amount: Any, size: int) -> int:
    """How many of ``size`` entries (or channels) ``amount`` prunes."""
    count = amount if isinstance(amount, numbers.Integral) else round(amount * size)
    if isinstance(amount, numbers.Integral) and amount > size:
        raise ValueError(f"amount={amount} should be smaller than the number of parameters to prune={size}")
    return int(count)


def _check_structured(t: Tensor, dim: int) -> None:
    if t.dim() <= 1:
        raise ValueError(
            "Structured pruning can only be applied to multidimensional tensors. Found tensor of shape "
            f"{t.shape} with {t.dim()} dims"
        )
    if not -t.dim() <= dim < t.dim():
        raise IndexError(f"Invalid index {dim} for tensor of size {t.shape}")


def _channel_mask(t: Tensor, dim: int, kept: np.ndarray, default_mask: Tensor) -> Tensor:
    """A mask of ``t``'s shape that keeps the slices ``kept`` along ``dim`` (times ``default_mask``)."""
    mask = np.zeros(t.shape, dtype=default_mask._data.dtype)
    index = [slice(None)] * t.dim()
    index[dim] = kept
    mask[tuple(index)] = 1
    return Tensor._wrap(mask * default_mask._data)


class BasePruningMethod(ABC):
    """A way to choose the entries a mask zeroes; applied to a module's parameter it is
    also the forward pre-hook that recomputes the pruned parameter."""

    PRUNING_TYPE = "unstructured"
    _tensor_name: str | None = None

    def __call__(self, module: Module, inputs: Any) -> None:
        setattr(module, self._tensor_name, self.apply_mask(module))

    @abstractmethod
    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        """The mask for ``t`` (entries ``default_mask`` already zeroes stay zeroed)."""

    def apply_mask(self, module: Module) -> Tensor:
        """``name_orig * name_mask`` of ``module``."""
        if self._tensor_name is None:
            raise AssertionError(f"Module {module} has to be pruned")
        mask = getattr(module, self._tensor_name + "_mask")
        orig = getattr(module, self._tensor_name + "_orig")
        return mask.to(dtype=orig.dtype) * orig

    @classmethod
    def apply(
        cls, module: Module, name: str, *args: Any, importance_scores: Tensor | None = None, **kwargs: Any
    ):
        """Prune ``module``'s parameter ``name`` with ``cls(*args, **kwargs)`` (combined with
        the pruning it already has), choosing by ``importance_scores`` (default: the
        parameter's values)."""
        method = _combined_method(cls, module, name, *args, **kwargs)
        orig = getattr(module, name)
        if importance_scores is None:
            importance_scores = orig
        elif importance_scores.shape != orig.shape:
            raise AssertionError(
                f"importance_scores should have the same shape as parameter {name} of {module}, "
                f"got {importance_scores.shape} vs {orig.shape}"
            )
        first = not isinstance(method, PruningContainer)
        if first:
            module.register_parameter(name + "_orig", orig)
            del module._parameters[name]
            default_mask = ones_like(orig)
        else:
            default_mask = getattr(module, name + "_mask").detach().clone()
        try:
            with no_grad():
                mask = method.compute_mask(importance_scores.detach(), default_mask=default_mask)
            module.register_buffer(name + "_mask", mask)
            setattr(module, name, method.apply_mask(module))
            module.register_forward_pre_hook(method)
        except Exception:
            if first:  # the module as it was
                module.register_parameter(name, module._parameters.pop(name + "_orig"))
            raise
        return method

    def prune(
        self, t: Tensor, default_mask: Tensor | None = None, importance_scores: Tensor | None = None
    ) -> Tensor:
        """``t`` times the mask this method computes for it (no module involved)."""
        if importance_scores is not None and importance_scores.shape != t.shape:
            raise AssertionError(
                "importance_scores should have the same shape as tensor t, "
                f"got {importance_scores.shape} vs {t.shape}"
            )
        scores = t if importance_scores is None else importance_scores
        with no_grad():
            mask = self.compute_mask(scores.detach(), ones_like(t) if default_mask is None else default_mask)
        return t * mask

    def remove(self, module: Module) -> None:
        """Make the pruning permanent: ``name`` becomes a parameter holding the masked values."""
        if self._tensor_name is None:
            raise AssertionError(f"Module {module} has to be pruned before pruning can be removed")
        name = self._tensor_name
        with no_grad():
            masked = self.apply_mask(module)
        if name in module.__dict__:
            delattr(module, name)
        orig = module._parameters.pop(name + "_orig")
        orig.data = masked.data
        del module._buffers[name + "_mask"]
        setattr(module, name, orig)


def _combined_method(cls: type, module: Module, name: str, *args: Any, **kwargs: Any) -> BasePruningMethod:
    """The new method, or a container of the methods that pruned ``name`` before and it
    (their hook is taken off the module: the returned method's replaces it)."""
    found = [
        (key, hook)
        for key, hook in module._forward_pre_hooks.items()
        if isinstance(hook, BasePruningMethod) and hook._tensor_name == name
    ]
    if len(found) > 1:
        raise AssertionError(
            f"Avoid adding multiple pruning hooks to the same tensor {name} of module {module}. Use a PruningContainer."
        )
    method = cls(*args, **kwargs)
    method._tensor_name = name
    if not found:
        return method
    key, old = found[0]
    del module._forward_pre_hooks[key]
    container = old if isinstance(old, PruningContainer) else PruningContainer(old)
    container.add_pruning_method(method)
    return container


class PruningContainer(BasePruningMethod):
    """Pruning methods applied one after the other to one parameter: each new one chooses
    among what the earlier ones kept."""

    def __init__(self, *methods: BasePruningMethod) -> None:
        self._pruning_methods: tuple[BasePruningMethod, ...] = ()
        if len(methods) == 1:
            self._tensor_name = methods[0]._tensor_name
        for method in methods:
            self.add_pruning_method(method)

    def add_pruning_method(self, method: BasePruningMethod) -> None:
        if not isinstance(method, BasePruningMethod) and method is not None:
            raise TypeError(f"{type(method)} is not a BasePruningMethod subclass")
        if method is not None and self._tensor_name != method._tensor_name:
            raise ValueError(
                "Can only add pruning methods acting on "
                f"the parameter named '{self._tensor_name}' to PruningContainer {self}."
                f" Found '{method._tensor_name}'"
            )
        self._pruning_methods += (method,)

    def __len__(self) -> int:
        return len(self._pruning_methods)

    def __iter__(self):
        return iter(self._pruning_methods)

    def __getitem__(self, index: int) -> BasePruningMethod:
        return self._pruning_methods[index]

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        """The last method's mask computed on the part of ``t`` the earlier masks keep."""
        method = self._pruning_methods[-1]
        mask = default_mask._data.astype(t._data.dtype)
        if method.PRUNING_TYPE == "unstructured":
            part = mask == 1
        elif method.PRUNING_TYPE == "structured":
            if not hasattr(method, "dim"):
                raise AttributeError(
                    'Pruning methods of PRUNING_TYPE "structured" need to have the attribute `dim` defined.'
                )
            dim = method.dim + t.dim() if method.dim < 0 else method.dim
            if dim < 0:
                raise IndexError(f"Index is out of bounds for tensor with dimensions {t.dim()}")
            kept = mask.sum(axis=tuple(d for d in range(t.dim()) if d != dim)) != 0
            part = tuple(kept if d == dim else slice(None) for d in range(t.dim()))
        elif method.PRUNING_TYPE == "global":
            part = (slice(None),) * t.dim()
        else:
            raise ValueError(f"Unrecognized PRUNING_TYPE {method.PRUNING_TYPE}")
        partial = method.compute_mask(Tensor._wrap(t._data[part]), default_mask=Tensor._wrap(mask[part]))
        mask[part] = partial._data
        return Tensor._wrap(mask)


class Identity(BasePruningMethod):
    """Prunes nothing (a mask of ones)."""

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        return default_mask

    @classmethod
    def apply(cls, module: Module, name: str):  # type: ignore[override]
        return super().apply(module, name)


class _EntryPruning(BasePruningMethod):
    """An unstructured method: prunes ``amount`` single entries, those
    :meth:`_chosen` picks (flat indices)."""

    def __init__(self, amount: float) -> None:
        _check_amount(amount)
        self.amount = amount

    def _chosen(self, t: Tensor, count: int) -> np.ndarray:
        raise NotImplementedError

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        count = _count_to_prune(self.amount, t.numel())
        mask = default_mask._data.copy()
        if count:
            mask.reshape(-1)[self._chosen(t, count)] = 0
        return Tensor._wrap(mask)


class RandomUnstructured(_EntryPruning):
    """Prunes ``amount`` entries chosen at random."""

    def _chosen(self, t: Tensor, count: int) -> np.ndarray:
        return rand(t.numel()).topk(count).indices._data

    @classmethod
    def apply(cls, module: Module, name: str, amount: float):  # type: ignore[override]
        return super().apply(module, name, amount=amount)


class L1Unstructured(_EntryPruning):
    """Prunes the ``amount`` entries of smallest absolute value."""

    def _chosen(self, t: Tensor, count: int) -> np.ndarray:
        return t.abs().reshape(-1).topk(count, largest=False).indices._data

    @classmethod
    def apply(cls, module: Module, name: str, amount: float, importance_scores: Tensor | None = None):  # type: ignore[override]
        return super().apply(module, name, amount=amount, importance_scores=importance_scores)


class _SlicePruning(BasePruningMethod):
    """A structured method: prunes ``amount`` slices along ``dim``, keeping those
    :meth:`_kept` picks (indices, or a boolean mask over the slices)."""

    PRUNING_TYPE = "structured"
    dim: int

    def _kept(self, t: Tensor, dim: int, count: int) -> np.ndarray:
        raise NotImplementedError

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        _check_structured(t, self.dim)
        count = _count_to_prune(self.amount, t.shape[self.dim])
        if not count:
            return default_mask
        dim = self.dim % t.dim()
        return _channel_mask(t, dim, self._kept(t, dim, count), default_mask)


class RandomStructured(_SlicePruning):
    """Prunes ``amount`` slices along ``dim`` chosen at random."""

    def __init__(self, amount: float, dim: int = -1) -> None:
        _check_amount(amount)
        self.amount, self.dim = amount, dim

    def _kept(self, t: Tensor, dim: int, count: int) -> np.ndarray:
        scores = rand(t.shape[dim])._data
        return scores > np.partition(scores, count - 1)[count - 1]

    @classmethod
    def apply(cls, module: Module, name: str, amount: float, dim: int = -1):  # type: ignore[override]
        return super().apply(module, name, amount=amount, dim=dim)


class LnStructured(_SlicePruning):
    """Prunes the ``amount`` slices along ``dim`` of smallest L``n`` norm."""

    def __init__(self, amount: float, n: Any, dim: int = -1) -> None:
        _check_amount(amount)
        self.amount, self.n, self.dim = amount, n, dim

    def _kept(self, t: Tensor, dim: int, count: int) -> np.ndarray:
        norms = t.norm(p=self.n, dim=[d for d in range(t.dim()) if d != dim])
        return norms.topk(t.shape[dim] - count, largest=True).indices._data

    @classmethod
    def apply(
        cls,
        module: Module,
        name: str,
        amount: float,
        n: Any,
        dim: int,
        importance_scores: Tensor | None = None,
    ):  # type: ignore[override]
        return super().apply(module, name, amount=amount, n=n, dim=dim, importance_scores=importance_scores)


class CustomFromMask(BasePruningMethod):
    """Prunes where a given mask is zero."""

    PRUNING_TYPE = "global"

    def __init__(self, mask: Tensor) -> None:
        self.mask = mask

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        if default_mask.shape != self.mask.shape:
            raise AssertionError(
                f"default_mask shape {default_mask.shape} must match self.mask shape {self.mask.shape}"
            )
        return default_mask * self.mask.to(dtype=default_mask.dtype)

    @classmethod
    def apply(cls, module: Module, name: str, mask: Tensor):  # type: ignore[override]
        return super().apply(module, name, mask=mask)


def identity(module: Module, name: str) -> Module:
    Identity.apply(module, name)
    return module


def random_unstructured(module: Module, name: str, amount: float) -> Module:
    RandomUnstructured.apply(module, name, amount)
    return module


def l1_unstructured(
    module: Module, name: str, amount: float, importance_scores: Tensor | None = None
) -> Module:
    L1Unstructured.apply(module, name, amount=amount, importance_scores=importance_scores)
    return module


def random_structured(module: Module, name: str, amount: float, dim: int) -> Module:
    RandomStructured.apply(module, name, amount, dim)
    return module


def ln_structured(
    module: Module, name: str, amount: float, n: Any, dim: int, importance_scores: Tensor | None = None
) -> Module:
    LnStructured.apply(module, name, amount, n, dim, importance_scores=importance_scores)
    return module


def custom_from_mask(module: Module, name: str, mask: Tensor) -> Module:
    CustomFromMask.apply(module, name, mask)
    return module


def global_unstructured(
    parameters: Iterable[tuple[Module, str]],
    pruning_method: type,
    importance_scores: dict | None = None,
    **kwargs: Any,
) -> None:
    """Prune the given ``(module, name)`` parameters together: ``pruning_method`` (an
    unstructured one) chooses among all their entries at once."""
    if not isinstance(parameters, Iterable):
        raise TypeError("global_unstructured(): parameters is not an Iterable")
    parameters = list(parameters)
    importance_scores = {} if importance_scores is None else importance_scores
    if not isinstance(importance_scores, dict):
        raise TypeError("global_unstructured(): importance_scores must be of type dict")
    method = pruning_method(**kwargs)
    if method.PRUNING_TYPE != "unstructured":
        raise TypeError(
            'Only "unstructured" PRUNING_TYPE supported for the `pruning_method`. '
            f"Found method {pruning_method} of type {method.PRUNING_TYPE}"
        )
    with no_grad():
        scores = parameters_to_vector(
            [importance_scores.get((module, name), getattr(module, name)) for module, name in parameters]
        )
        masks = parameters_to_vector(
            [getattr(module, name + "_mask", ones_like(getattr(module, name))) for module, name in parameters]
        )
    method._tensor_name = "temp"
    container = PruningContainer(method)
    mask = container.compute_mask(scores, masks)
    start = 0
    for module, name in parameters:
        param = getattr(module, name)
        custom_from_mask(module, name, mask=mask[start : start + param.numel()].view_as(param))
        start += param.numel()


def remove(module: Module, name: str) -> Module:
    """Make the pruning of ``name`` permanent (see :meth:`BasePruningMethod.remove`)."""
    for key, hook in module._forward_pre_hooks.items():
        if isinstance(hook, BasePruningMethod) and hook._tensor_name == name:
            hook.remove(module)
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(f"Parameter '{name}' of module {module} has to be pruned before pruning can be removed")


def is_pruned(module: Module) -> bool:
    """Whether any parameter of ``module`` or its submodules is pruned."""
    return any(
        isinstance(hook, BasePruningMethod)
        for _, submodule in module.named_modules()
        for hook in submodule._forward_pre_hooks.values()
    )
