"""Parametrizations: a module's tensor computed on each access from "original" tensors.

``register_parametrization(module, 'weight', p)`` moves the parameter (or buffer)
``weight`` into ``module.parametrizations.weight`` (a :class:`ParametrizationList`) as
``original`` (or ``original0``, ``original1`` ... when ``p.right_inverse`` splits it),
and gives the module's class a property ``weight`` that returns ``p(original)``.  As in
PyTorch the property lives on a subclass made for the module (``ParametrizedLinear``),
so other instances of ``Linear`` are untouched; state_dict keys are
``parametrizations.weight.original*`` exactly as PyTorch's, so checkpoints load across.

Reading the property runs the parametrization as ordinary ops, so autograd and the
compiler see it.  Assigning to it runs ``right_inverse`` and writes the originals in
place (a graph break when compiled), and ``cached()`` (a cache outside any graph) also
makes a compiled call run eagerly.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from copy import deepcopy

from ... import _tracing
from ...recording.grad_mode import no_grad
from ...tensor import Tensor
from ..modules.container import ModuleDict, ModuleList
from ..modules.module import Module
from ..parameter import Parameter

__all__ = [
    "cached",
    "ParametrizationList",
    "register_parametrization",
    "is_parametrized",
    "remove_parametrizations",
    "type_before_parametrizations",
]


class _Cache:
    """Values of parametrized tensors while ``cached()`` is active (nested: a depth)."""

    depth = 0
    values: dict[tuple[int, str], Tensor] = {}


@contextmanager
def cached() -> Iterator[None]:
    """Inside, each parametrized tensor is computed once (on first access) and reused."""
    _Cache.depth += 1
    try:
        yield
    finally:
        _Cache.depth -= 1
        if not _Cache.depth:
            _Cache.values = {}


def _register_parameter_or_buffer(module: Module, name: str, value: Tensor) -> None:
    if isinstance(value, Parameter):
        module.register_parameter(name, value)
    else:
        module.register_buffer(name, value)


def _set_in_place(dest: Tensor, src: Tensor) -> None:
    """``dest`` takes ``src``'s storage (shape and values), keeping its identity so optimizers
    holding it are unaffected, as ``Tensor.set_`` (a write: saved values of ``dest`` go stale)."""
    dest.data = src
    dest._bump_version()


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor, applied in order, and the original tensor(s).

    ``original`` holds the tensor when ``right_inverse`` (run on it through the list in
    reverse at registration) returns one tensor; ``original0``, ``original1`` ... when it
    returns a sequence.  ``legacy_state_keys`` maps keys of an older checkpoint layout
    (relative to the parametrized module) to original names, for ``load_state_dict``.
    """

    def __init__(self, modules: Sequence[Module], original: Tensor, unsafe: bool = False) -> None:
        if len(modules) == 0:
            raise ValueError("ParametrizationList requires one or more modules.")
        super().__init__(modules)
        self.unsafe = unsafe
        self.legacy_state_keys: dict[str, str] = {}
        shape, dtype = original.shape, original.dtype
        with no_grad():
            new = original
            for module in reversed(self):
                if hasattr(module, "right_inverse"):
                    try:
                        new = module.right_inverse(new)
                    except NotImplementedError:
                        pass  # no inverse: the identity
        if not isinstance(new, (Tensor, Sequence)):
            raise ValueError(
                "'right_inverse' must return a Tensor or a Sequence of tensors (list, tuple...). "
                f"Got {type(new).__name__}"
            )
        self.is_tensor = isinstance(new, Tensor)
        self.ntensors = 1 if self.is_tensor else len(new)
        if self.is_tensor:
            if original.dtype != new.dtype:
                raise ValueError(
                    "When `right_inverse` outputs one tensor, it may not change the dtype.\n"
                    f"original.dtype: {original.dtype}\nright_inverse(original).dtype: {new.dtype}"
                )
            with no_grad():
                _set_in_place(original, new)
            _register_parameter_or_buffer(self, "original", original)
        else:
            for i, part in enumerate(new):
                if not isinstance(part, Tensor):
                    raise ValueError(
                        "'right_inverse' must return a Tensor or a Sequence of tensors (list, tuple...). "
                        f"Got element {i} of the sequence with type {type(part).__name__}."
                    )
                if isinstance(original, Parameter):
                    part = Parameter(part, original.requires_grad)
                part.requires_grad_(original.requires_grad)
                _register_parameter_or_buffer(self, f"original{i}", part)
        if not self.unsafe:
            value = self()
            _check_consistent(
                value,
                shape,
                dtype,
                "Registering a parametrization may not change the {what} "
                "of the tensor, unless `unsafe` flag is enabled.\nunparametrized {what}: {before}\n"
                "parametrized {what}: {after}",
            )

    def originals(self) -> list[Tensor]:
        """The original tensor(s) the first parametrization takes."""
        if self.is_tensor:
            return [self.original]
        return [getattr(self, f"original{i}") for i in range(self.ntensors)]

    def right_inverse(self, value: Tensor) -> None:
        """Store ``value`` in the originals: run every ``right_inverse`` in reverse order and
        write the result(s) in place (the originals keep their identity)."""
        with no_grad():
            for module in reversed(self):
                if not hasattr(module, "right_inverse"):
                    raise RuntimeError(
                        f"parametrization {type(module).__name__} does not implement right_inverse."
                    )
                value = module.right_inverse(value)
            if self.is_tensor:
                if not isinstance(value, Tensor):
                    raise ValueError(f"`right_inverse` should return a tensor. Got {type(value).__name__}")
                parts = [value]
            else:
                if not isinstance(value, Sequence):
                    raise ValueError(
                        f"'right_inverse' must return a sequence of tensors. Got {type(value).__name__}."
                    )
                if len(value) != self.ntensors:
                    raise ValueError(
                        f"'right_inverse' must return a sequence of tensors of length {self.ntensors}. "
                        f"Got a sequence of length {len(value)}."
                    )
                parts = list(value)
            for i, (original, part) in enumerate(zip(self.originals(), parts)):
                name = "original" if self.is_tensor else f"original{i}"
                if not isinstance(part, Tensor):
                    raise ValueError(
                        f"'right_inverse' must return a sequence of tensors. Got element {i} of type "
                        f"{type(part).__name__}."
                    )
                if part.dtype != original.dtype:
                    raise ValueError(
                        f"The tensor returned by `right_inverse` has dtype {part.dtype} while `{name}` has "
                        f"dtype {original.dtype}"
                    )
                _set_in_place(original, part)

    def forward(self) -> Tensor:
        x = self[0](*self.originals())
        for module in list(self)[1:]:
            x = module(x)
        return x


def _check_consistent(value, shape, dtype, message: str) -> None:
    """PyTorch's ValueError when a parametrization's result is not a tensor of ``shape``
    and ``dtype`` (``message`` has ``{what}``, ``{before}`` and ``{after}`` slots)."""
    if not isinstance(value, Tensor):
        raise ValueError(f"A parametrization must return a tensor. Got {type(value).__name__}.")
    if value.dtype != dtype:
        raise ValueError(message.format(what="dtype", before=dtype, after=value.dtype))
    if value.shape != shape:
        raise ValueError(message.format(what="shape", before=shape, after=value.shape))


def _parametrized_property(tensor_name: str) -> property:
    def get(self: Module) -> Tensor:
        parametrization = self.parametrizations[tensor_name]
        if not _Cache.depth:
            return parametrization()
        _tracing.untraceable(
            "a parametrized tensor read inside parametrize.cached() (a cache outside the graph)"
        )
        key = (id(self), tensor_name)
        value = _Cache.values.get(key)
        if value is None:
            value = _Cache.values[key] = parametrization()
        return value

    def set(self: Module, value: Tensor) -> None:
        _tracing.untraceable("assigning to a parametrized tensor (right_inverse writes the originals)")
        self.parametrizations[tensor_name].right_inverse(value)

    return property(get, set, doc=f"``{tensor_name}`` computed by ``parametrizations.{tensor_name}``")


def _inject_new_class(module: Module) -> None:
    """Give ``module`` a class of its own, ``Parametrized<Class>``, to hold the properties."""
    cls = module.__class__

    def getstate(self):
        raise RuntimeError(
            "Serialization of parametrized modules is only supported through state_dict(). See:\n"
            "https://pytorch.org/tutorials/beginner/saving_loading_models.html"
            "#saving-loading-a-general-checkpoint-for-inference-and-or-resuming-training"
        )

    def copy_instance(self, memo):
        """A deep copy (``__getstate__`` refuses pickling, and would refuse deepcopy too)."""
        if id(self) in memo:
            return memo[id(self)]
        replica = self.__new__(self.__class__)
        memo[id(self)] = replica
        replica.__dict__ = deepcopy(self.__dict__, memo)
        return replica

    def load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        """Older checkpoint keys (``weight_g``/``weight_v`` of the hook-based weight norm)
        renamed to the originals before loading, when all of them are present."""
        for tensor_name, parametrizations in self.parametrizations.items():
            legacy = parametrizations.legacy_state_keys
            if legacy and all(prefix + old in state_dict for old in legacy):
                for old, new in legacy.items():
                    state_dict[f"{prefix}parametrizations.{tensor_name}.{new}"] = state_dict.pop(prefix + old)
        super(parametrized, self)._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    namespace = {"__getstate__": getstate, "_load_from_state_dict": load_from_state_dict}
    if not hasattr(cls, "__deepcopy__"):
        namespace["__deepcopy__"] = copy_instance
    parametrized = type(f"Parametrized{cls.__name__}", (cls,), namespace)
    module.__class__ = parametrized


def register_parametrization(
    module: Module, tensor_name: str, parametrization: Module, *, unsafe: bool = False
) -> Module:
    """Make ``module.<tensor_name>`` be ``parametrization(original)`` (appended after any
    parametrizations it already has).  Unless ``unsafe``, the result must keep the tensor's
    shape and dtype."""
    parametrization.train(module.training)
    if is_parametrized(module, tensor_name):
        if not unsafe:
            _check_appended(module, tensor_name, parametrization)
        plist = module.parametrizations[tensor_name]
        plist.append(parametrization)
        plist.unsafe |= unsafe
    elif tensor_name in module._buffers or tensor_name in module._parameters:
        original = getattr(module, tensor_name)
        plist = ParametrizationList([parametrization], original, unsafe=unsafe)
        delattr(module, tensor_name)
        if not is_parametrized(module):
            _inject_new_class(module)
            module.parametrizations = ModuleDict()
        setattr(module.__class__, tensor_name, _parametrized_property(tensor_name))
        module.parametrizations[tensor_name] = plist
    else:
        raise ValueError(
            f"Module '{module}' does not have a parameter, a buffer, or a parametrized element with "
            f"name '{tensor_name}'"
        )
    return module


def _check_appended(module: Module, tensor_name: str, parametrization: Module) -> None:
    """PyTorch's checks that a parametrization appended to ``tensor_name`` (and its
    ``right_inverse``, if any) keeps the tensor's shape and dtype."""
    current = getattr(module, tensor_name)
    value = parametrization(current)
    _check_consistent(
        value,
        current.shape,
        current.dtype,
        "Registering a parametrization may not change the {what} of the tensor, unless the `unsafe` flag "
        f"is enabled.\nmodule.{tensor_name}.{{what}}: {{before}}\n"
        f"parametrization(module.{tensor_name}).{{what}}: {{after}}",
    )
    if not hasattr(parametrization, "right_inverse"):
        return
    try:
        inverse = parametrization.right_inverse(value)
    except NotImplementedError:
        return
    _check_consistent(
        inverse,
        current.shape,
        current.dtype,
        "The tensor returned by parametrization.right_inverse must have the same {what} as "
        f"module.{tensor_name}, unless the `unsafe` flag is enabled.\nmodule.{tensor_name}.{{what}}: "
        "{before}\nreturned {what}: {after}",
    )


def is_parametrized(module: Module, tensor_name: str | None = None) -> bool:
    """Whether ``module`` has any parametrization (or one on ``tensor_name``)."""
    parametrizations = module.__dict__.get("_modules", {}).get("parametrizations")
    if not isinstance(parametrizations, ModuleDict):
        return False
    return len(parametrizations) > 0 if tensor_name is None else tensor_name in parametrizations


def remove_parametrizations(module: Module, tensor_name: str, leave_parametrized: bool = True) -> Module:
    """Make ``module.<tensor_name>`` a plain parameter (or buffer) again: with
    ``leave_parametrized`` its current parametrized value, else the original."""
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {module} does not have a parametrization on {tensor_name}")
    plist = module.parametrizations[tensor_name]
    if plist.is_tensor:
        original = plist.original
        if leave_parametrized:
            with no_grad():
                _set_in_place(original, getattr(module, tensor_name))
    elif leave_parametrized:
        value = getattr(module, tensor_name)
        original = Parameter(value.detach(), value.requires_grad) if value.requires_grad else value.detach()
    else:
        raise ValueError(
            "Cannot leave unparametrized (`leave_parametrized=False`) a tensor that is parametrized in "
            "terms of a sequence of tensors."
        )
    delattr(module.__class__, tensor_name)
    del module.parametrizations[tensor_name]
    _register_parameter_or_buffer(module, tensor_name, original)
    if not is_parametrized(module):
        delattr(module, "parametrizations")
        module.__class__ = module.__class__.__bases__[0]
    return module


def type_before_parametrizations(module: Module) -> type:
    """The module's class as it was before any parametrization was registered."""
    return module.__class__.__bases__[0] if is_parametrized(module) else type(module)
