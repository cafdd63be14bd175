"""A module's state dict: ``state_dict`` and ``load_state_dict`` with PyTorch's rules
and hooks, as a base class of :class:`.module.Module`.

``state_dict`` walks the module tree saving parameters and persistent buffers by
dotted name; ``load_state_dict`` copies (or, with ``assign``, binds) values back, and
reports missing and unexpected keys.  The four kinds of hook (``register_state_dict_pre_hook``
and ``_post_hook``, ``register_load_state_dict_pre_hook`` and ``_post_hook``) run where
PyTorch runs them; each module keeps its own store once one is registered (until then
the class's empty one stands in).
"""

from __future__ import annotations

import itertools
from collections import OrderedDict, namedtuple
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import numpy as np

from ...recording.grad_mode import no_grad
from ...tensor import Tensor
from ..parameter import Parameter, is_lazy
from .handles import RemovableHandle, register_hook


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns: ``(missing_keys, unexpected_keys)``."""

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


class StateDict:
    """The state-dict half of :class:`~irgrad.nn.Module` (see the module doc)."""

    _state_dict_pre_hooks: Mapping = MappingProxyType({})
    _state_dict_hooks: Mapping = MappingProxyType({})
    _load_state_dict_pre_hooks: Mapping = MappingProxyType({})
    _load_state_dict_post_hooks: Mapping = MappingProxyType({})
    _version = 1  # (a state dict's metadata, for hooks that convert old checkpoints)

    def _save_to_state_dict(self, destination: dict, prefix: str, keep_vars: bool) -> None:
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = param if keep_vars else param.detach()
        for name, buf in self._buffers.items():
            if buf is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = buf if keep_vars else buf.detach()

    def state_dict(
        self, *args: Any, destination: dict | None = None, prefix: str = "", keep_vars: bool = False
    ) -> dict[str, Tensor]:
        """An OrderedDict of parameters then persistent buffers, module by module, detached."""
        if args:  # the deprecated positional form state_dict(destination, prefix, keep_vars)
            destination = args[0]
            if len(args) > 1:
                prefix = args[1]
            if len(args) > 2:
                keep_vars = args[2]
        if destination is None:
            destination = OrderedDict()
        for hook in list(self._state_dict_pre_hooks.values()):
            hook(self, prefix, keep_vars)
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + ".", keep_vars=keep_vars)
        for hook in list(self._state_dict_hooks.values()):
            if hook(self, destination, prefix, {"version": self._version}) is not None:
                raise RuntimeError("state_dict post-hook must return None")
        return destination

    def register_state_dict_pre_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(module, prefix, keep_vars)`` runs before the module's ``state_dict`` saves its state."""
        return register_hook(self, "_state_dict_pre_hooks", hook)

    def register_state_dict_post_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(module, state_dict, prefix, local_metadata)`` runs after the module's
        ``state_dict`` (its children's included); it may change ``state_dict`` in place."""
        return register_hook(self, "_state_dict_hooks", hook)

    def register_load_state_dict_pre_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(module, state_dict, prefix, local_metadata, strict, missing_keys,
        unexpected_keys, error_msgs)`` runs before the module loads its own state (it may
        rename keys of ``state_dict`` in place: converting an old checkpoint)."""
        return register_hook(self, "_load_state_dict_pre_hooks", hook)

    def register_load_state_dict_post_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(module, incompatible_keys)`` runs after ``load_state_dict`` loaded the
        module and its children; it may remove keys from ``incompatible_keys``' lists."""
        return register_hook(self, "_load_state_dict_post_hooks", hook)

    def _load_from_state_dict(
        self,
        state_dict: dict,
        prefix: str,
        strict: bool,
        missing_keys: list,
        unexpected_keys: list,
        error_msgs: list,
        assign: bool = False,
    ) -> None:
        for hook in list(self._load_state_dict_pre_hooks.values()):
            hook(
                self,
                state_dict,
                prefix,
                {"version": self._version},
                strict,
                missing_keys,
                unexpected_keys,
                error_msgs,
            )
        persistent = {k: v for k, v in self._buffers.items() if k not in self._non_persistent_buffers_set}
        local_state = {
            k: v for k, v in itertools.chain(self._parameters.items(), persistent.items()) if v is not None
        }
        for name, current in local_state.items():
            key = prefix + name
            if key not in state_dict:
                if strict:
                    missing_keys.append(key)
                continue
            value = state_dict[key]
            if not isinstance(value, Tensor) and hasattr(value, "__array__"):
                value = Tensor._wrap(np.asarray(value))  # numpy arrays, or other libraries' CPU tensors
            if not isinstance(value, Tensor):
                error_msgs.append(
                    f'While copying the parameter named "{key}", expected irgrad.Tensor or Tensor-like object '
                    f"from checkpoint but received {type(value)}"
                )
                continue
            if is_lazy(current):
                continue  # a placeholder loading a placeholder (a lazy module's hook materialized others)
            if value.shape != current.shape:
                error_msgs.append(
                    f"size mismatch for {key}: copying a param with shape {value.shape} from checkpoint, "
                    f"the shape in current model is {current.shape}."
                )
                continue
            try:
                with no_grad():
                    if assign:
                        self._assign_state(name, current, value)
                    else:
                        current.copy_(value)
            except Exception as ex:
                error_msgs.append(
                    f'While copying the parameter named "{key}", whose dimensions in the model are '
                    f"{current.shape} and whose dimensions in the checkpoint are {value.shape}, "
                    f"an exception occurred : {ex.args}."
                )
        if strict:
            for key in state_dict:
                if key.startswith(prefix):
                    first = key[len(prefix) :].split(".", 1)[0]
                    if first not in self._modules and first not in local_state:
                        unexpected_keys.append(key)

    def _assign_state(self, name: str, current: Tensor, value: Tensor) -> None:
        # as PyTorch: a parameter stays a parameter (with its requires_grad), and the value
        # is bound by setattr, so the global registration hooks see it
        if isinstance(current, Parameter):
            if isinstance(value, Parameter):
                value.requires_grad_(current.requires_grad)
            else:
                value = Parameter(value, requires_grad=current.requires_grad)
        setattr(self, name, value)

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False):
        """Copy values from ``state_dict`` in place; returns ``(missing_keys, unexpected_keys)``.

        Values may be irgrad tensors, numpy arrays or anything ``np.asarray`` accepts that
        has ``__array__`` (e.g. a PyTorch CPU state_dict).  With ``strict`` (the default), a
        missing or unexpected key raises RuntimeError, as do shape mismatches always.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        state_dict = OrderedDict(state_dict)
        missing: list[str] = []
        unexpected: list[str] = []
        errors: list[str] = []

        def load(module: StateDict, prefix: str) -> None:
            module._load_from_state_dict(state_dict, prefix, True, missing, unexpected, errors, assign)
            for name, child in module._modules.items():
                if child is not None:
                    load(child, prefix + name + ".")
            for hook in list(module._load_state_dict_post_hooks.values()):
                if hook(module, _IncompatibleKeys(missing, unexpected)) is not None:
                    raise RuntimeError("load_state_dict post-hook must return None")

        load(self, "")
        if strict:
            if unexpected:
                errors.insert(
                    0, "Unexpected key(s) in state_dict: {}. ".format(", ".join(f'"{k}"' for k in unexpected))
                )
            if missing:
                errors.insert(
                    0, "Missing key(s) in state_dict: {}. ".format(", ".join(f'"{k}"' for k in missing))
                )
        if errors:
            raise RuntimeError(
                "Error(s) in loading state_dict for {}:\n\t{}".format(
                    type(self).__name__, "\n\t".join(errors)
                )
            )
        return _IncompatibleKeys(missing, unexpected)
