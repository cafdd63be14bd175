"""``Optimizer``: the base class of every irgrad optimizer, as ``torch.optim.Optimizer``.

It owns what all optimizers share: parameter groups (per-group options overriding the
defaults), per-parameter state keyed by the parameter tensor, ``zero_grad``, and
``state_dict``/``load_state_dict`` in PyTorch's format (parameters replaced by their
position, so a state dict is independent of object identity).  Subclasses implement
``step`` on the numpy storage of parameters and state: the update is not recorded by
autograd, exactly like PyTorch's in-place update under ``no_grad``.

Update rules repeat PyTorch's single-tensor (CPU) algorithms operation by operation,
with scalars rounded to the parameter dtype first, as ATen does.  PyTorch's CPU
kernels fuse ``add(alpha=)``, ``lerp`` and ``addcmul`` into fused multiply-adds, which
numpy cannot; so float32 results differ from PyTorch's only in the last bits
(about 1e-7 relative per step).

Hooks (around ``step``, ``state_dict`` and ``load_state_dict``) are PyTorch's, with its
signatures and order; see :mod:`irgrad.optim.hooks`.
"""

from __future__ import annotations

import copy
import warnings
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable
from itertools import chain
from typing import Any

import numpy as np

from ..dtypes import float64, get_default_dtype
from ..nn.modules.module import RemovableHandle
from ..recording.grad_mode import enable_grad
from ..tensor import Tensor
from .arrays import namespace
from .hooks import (
    GLOBAL_STEP_HOOKS,
    HOOK_STORES,
    add_hook,
    register_optimizer_step_post_hook,
    register_optimizer_step_pre_hook,
    with_step_hooks,
)
from .param_group import ParamGroup

__all__ = ["Optimizer", "register_optimizer_step_pre_hook", "register_optimizer_step_post_hook"]


class _RequiredParameter:
    """Marks an option that every parameter group must set (no default exists)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


class Optimizer:
    """Base class for optimizers: parameter groups, state, ``zero_grad`` and state dicts."""

    # whether the update is right for complex parameters as written (a complex-linear one)
    complex_parameters = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every optimizer class's own ``step`` runs the step hooks (see :mod:`.hooks`)."""
        super().__init_subclass__(**kwargs)
        if "step" in cls.__dict__:
            cls.step = with_step_hooks(cls.__dict__["step"])

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self._add_hook_stores()
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or dicts, "
                f"but got {_typename(params)}"
            )
        self.state: defaultdict[Any, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    # --- pickling-style state used by load_state_dict ----------------------------------
    def __getstate__(self) -> dict[str, Any]:
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    #: per option, the value a param group restored from an older state takes when it lacks
    #: the option (PyTorch's ``__setstate__`` ``setdefault`` calls, stated once per class)
    restored_defaults: dict[str, Any] = {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._add_hook_stores()
        self.param_groups = [g if isinstance(g, ParamGroup) else ParamGroup(g) for g in self.param_groups]
        for group in self.param_groups:
            for name, value in self.restored_defaults.items():
                group.setdefault(name, value)

    def _add_hook_stores(self) -> None:
        """Empty hook registries where missing (a new or an unpickled optimizer)."""
        for name in HOOK_STORES:
            if name not in self.__dict__:
                setattr(self, name, OrderedDict())
        self._global_step_hooks = GLOBAL_STEP_HOOKS  # seen by compiled calls' guards (see .hooks)

    def __repr__(self) -> str:
        text = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    text += f"    {key}: {group[key]}\n"
        return text + ")"

    # --- parameter groups ----------------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Append a group: its options default to ``self.defaults``; parameters may not repeat."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the ordering "
                "of tensors in sets will change between runs. Please use a list instead."
            )
        else:
            params = list(params)

        tensors, names = [], []
        for param in params:
            if isinstance(param, tuple):  # (name, tensor) pairs from named_parameters()
                names.append(param[0])
                tensors.append(param[1])
            else:
                tensors.append(param)
        param_group["params"] = tensors
        if names:
            if len(names) != len(tensors):
                raise ValueError(
                    "all optimizer params should be with/without names. Some param names are missing"
                )
            param_group["param_names"] = names

        for param in tensors:
            if not isinstance(param, Tensor):
                raise TypeError(
                    f"optimizer can only optimize Tensors, but one of the params is {_typename(param)}"
                )
            if not (param.is_leaf or param.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
            if param.dtype.is_complex and not self.complex_parameters:
                raise NotImplementedError(
                    f"{type(self).__name__} of complex parameters is not implemented in irgrad (SGD's "
                    "is); PyTorch's updates them as real pairs (view_as_real)"
                )

        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(
                    f"parameter group didn't specify a value of required optimization parameter {name}"
                )
            param_group.setdefault(name, default)

        if len(tensors) != len(set(tensors)):
            warnings.warn(
                "optimizer contains a parameter group with duplicate parameters; in future, this will "
                "cause an error; see github.com/pytorch/pytorch/issues/40967 for more information",
                stacklevel=3,
            )
        existing: set[Tensor] = set()
        for group in self.param_groups:
            existing.update(group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError(
                    "all optimizer param groups should be with/without names. "
                    f"cannot add param group {which} to the optimizer"
                )
        if not existing.isdisjoint(tensors):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(ParamGroup(param_group))

    # --- gradients -----------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every parameter's ``.grad`` (default) or zero it in place."""
        for group in self.param_groups:
            for p in group["params"]:
                grad = p._grad
                if grad is None:
                    continue
                if set_to_none:
                    p._grad = None
                    continue
                if grad._node is not None:
                    grad.detach_()
                else:
                    grad._rg = False
                grad.zero_()

    @with_step_hooks
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; return ``closure()``'s loss if given.

        Each group's update is the subclass's ``_update_group(xp, group)``, written against
        the array namespace ``xp`` (see :mod:`irgrad.optim.arrays`), so one definition runs
        eagerly on numpy storage and traced as recorded tensor ops.
        """
        loss = self._eval_closure(closure)
        xp = namespace()
        with xp.updating():
            for group in self.param_groups:
                self._update_group(xp, group)
        return loss

    def _update_group(self, xp, group: dict[str, Any]) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not implement its update")

    def _eval_closure(self, closure: Callable[[], Any] | None) -> Any:
        """Run ``closure`` with gradients enabled, as PyTorch's ``step`` does."""
        if closure is None:
            return None
        with enable_grad():
            return closure()

    # --- hooks -----------------------------------------------------------------------------
    def register_step_pre_hook(self, hook: Callable) -> RemovableHandle:
        """Run ``hook(optimizer, args, kwargs)`` before each ``step``; it may return
        ``(new_args, new_kwargs)`` to call ``step`` with (``args`` starts with the optimizer)."""
        return add_hook(self._optimizer_step_pre_hooks, hook)

    def register_step_post_hook(self, hook: Callable) -> RemovableHandle:
        """Run ``hook(optimizer, args, kwargs)`` after each ``step``."""
        return add_hook(self._optimizer_step_post_hooks, hook)

    def register_state_dict_pre_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """Run ``hook(optimizer)`` before ``state_dict`` builds the state dict."""
        return add_hook(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """Run ``hook(optimizer, state_dict)`` on the state dict ``state_dict`` built; a
        returned dict replaces it."""
        return add_hook(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """Run ``hook(optimizer, state_dict)`` on a shallow copy of the dict given to
        ``load_state_dict`` before loading it; a returned dict is loaded instead."""
        return add_hook(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """Run ``hook(optimizer)`` after ``load_state_dict`` has loaded a state dict."""
        return add_hook(self._optimizer_load_state_dict_post_hooks, hook, prepend)

    # --- state dicts -----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}``.

        As in PyTorch, the state tensors are the optimizer's own (not copies);
        ``load_state_dict`` copies them.  The state-dict hooks run before and after.
        """
        for pre_hook in self._optimizer_state_dict_pre_hooks.values():
            pre_hook(self)
        mapping: dict[int, int] = {}
        start = 0

        def pack(group: dict[str, Any]) -> dict[str, Any]:
            nonlocal start
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                mapping.setdefault(id(p), i)
            packed["params"] = [mapping[id(p)] for p in group["params"]]
            start += len(packed["params"])
            return packed

        groups = [pack(g) for g in self.param_groups]
        state = {(mapping[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()}
        state_dict = {"state": state, "param_groups": groups}
        for post_hook in self._optimizer_state_dict_post_hooks.values():
            result = post_hook(self, state_dict)
            if result is not None:
                state_dict = result
        return state_dict

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state dict made by ``state_dict`` (of an optimizer with the same group layout).

        Group options and state are deep-copied; floating state tensors take the dtype of
        their parameter, except ``step`` counters.  The load-state-dict pre-hooks see (and
        may replace) a shallow copy of ``state_dict``; the post-hooks run after loading.
        """
        state_dict = state_dict.copy()
        for pre_hook in self._optimizer_load_state_dict_pre_hooks.values():
            result = pre_hook(self, state_dict)
            if result is not None:
                state_dict = result
        groups = self.param_groups
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError(
                "loaded state dict has a different number of parameter groups "
                f"({len(saved_groups)}) than the optimizer ({len(groups)})"
            )
        for i, (g, s) in enumerate(zip(groups, saved_groups)):
            if len(g["params"]) != len(s["params"]):
                raise ValueError(
                    f"loaded state dict contains a parameter group ({i}, with {len(s['params'])} "
                    f"parameters) that doesn't match the size of optimizer's group ({len(g['params'])})"
                )
        id_map = dict(
            zip(
                chain.from_iterable(s["params"] for s in saved_groups),
                chain.from_iterable(g["params"] for g in groups),
            )
        )
        state: defaultdict[Any, dict[str, Any]] = defaultdict(dict)
        for key, value in state_dict["state"].items():
            if key in id_map:
                param = id_map[key]
                state[param] = _copy_state(param, value)
            else:
                state[key] = copy.deepcopy(value)

        new_groups = []
        for group, saved in zip(groups, saved_groups):
            saved["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                saved["param_names"] = group["param_names"]
            new_groups.append(saved)
        self.__setstate__({"state": state, "param_groups": new_groups})
        for post_hook in self._optimizer_load_state_dict_post_hooks.values():
            post_hook(self)


def _copy_state(param: Tensor, value: Any, key: Any = None) -> Any:
    """Deep-copy one parameter's state, casting floating tensors to the parameter's dtype."""
    if isinstance(value, Tensor):
        data = value._data
        if key != "step" and param._data.dtype.kind == "f" and data.dtype.kind == "f":
            return Tensor._wrap(data.astype(param._data.dtype, copy=True))
        return Tensor._wrap(data.copy())
    if isinstance(value, dict):
        return {k: _copy_state(param, v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_copy_state(param, v) for v in value)
    return copy.deepcopy(value)


def _typename(obj: Any) -> str:
    return "irgrad.Tensor" if isinstance(obj, Tensor) else type(obj).__name__


# --- helpers shared by the update rules ---------------------------------------------------
def params_with_grad(group: dict[str, Any]) -> list[Tensor]:
    """The group's parameters that have a gradient (the others are skipped, as in PyTorch)."""
    return [p for p in group["params"] if p._grad is not None]


def scalar_value(x: Any) -> float:
    """A learning rate or coefficient as a Python float (a one-element tensor is accepted)."""
    return float(x) if isinstance(x, Tensor) else x


def check_lr(lr: Any) -> None:
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")


def check_adam_options(eps: float, betas: tuple[float, float], weight_decay: float) -> None:
    """The argument checks Adam's family shares, with PyTorch's messages and order."""
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


def check_no_differentiable(name: str, differentiable: bool) -> None:
    """irgrad's updates write numpy storage directly, so they cannot be differentiated."""
    if differentiable:
        raise NotImplementedError(
            f"{name}: differentiable=True is not supported by irgrad (updates are not recorded by autograd)"
        )


def check_not_capturable(name: str, group: dict[str, Any], what: str = "params and state_steps") -> None:
    """``capturable=True`` needs an accelerator's graph capture; on the CPU PyTorch's step
    refuses it with this AssertionError (irgrad runs on the CPU only)."""
    if group["capturable"]:
        raise AssertionError(
            f"{name}: if capturable=True, {what} must be on supported devices: "
            "['cuda', 'xpu', 'hpu', 'privateuseone', 'xla'] (irgrad runs on the cpu only)."
        )


def scalar_state(value: float) -> Tensor:
    """A 0-d float state tensor (``step``, NAdam's ``mu_product``): float64 only under a
    float64 default dtype, as PyTorch makes them."""
    dt = np.float64 if get_default_dtype() == float64 else np.float32
    return Tensor._wrap(np.full((), value, dtype=dt))


def new_step() -> Tensor:
    """A fresh ``step`` counter."""
    return scalar_state(0.0)


def zeros_state(p: Tensor) -> Tensor:
    """A zero buffer shaped and typed like ``p``."""
    return Tensor._wrap(np.zeros_like(p._data))
