"""PyTorch's TypeError for a non-tensor passed where a public function takes a tensor.

irgrad's functions read ``input._data`` and other attributes directly, so a list
where a tensor belongs would fail somewhere inside with an AttributeError (or a
TypeError from numpy) that names neither the function nor the argument.
``@tensor_arguments``, written on the public function where it is defined, reports
such a failure as PyTorch does: ``linear(): argument 'input' (position 1) must be
Tensor, not list``.

The parameters checked are those whose annotation is a union of ``Tensor`` (or
``Sequence[Tensor]``) with numbers and ``None``: ``Tensor``, ``Tensor | None``,
``Tensor | Number`` (a binary op's operands), ``Sequence[Tensor]``.  The check runs
only after the function failed with an AttributeError or a TypeError, so a correct
call runs no check.  The wrapper is generated with the function's own signature
(as :mod:`dataclasses` generates ``__init__``), so the call into it is an ordinary
Python-to-Python call with no ``*args``/``**kwargs`` repacking: about 20 ns (measured
on ``irgrad.exp`` of a small tensor when it was wrapped: 1,027 against 1,007 ns).  The
hottest functions (the generated unary and binary ops, ``add``, ``sub``, ``div``) check
around their own body instead (:func:`parameter_checks`), which costs nothing; Tensor
methods whose only tensor argument is ``self`` are attached without the wrapper (see
:func:`unchecked_method`).

The wrapper also takes the keywords PyTorch's argument parser binds beyond a signature
(``x.sum(axis=0, keepdims=True)``, ``x.reshape(shape=(2, 3))``: :mod:`irgrad._keywords`)
with a last ``**`` parameter, which a correct call fills with an empty dict; the method
of such a function keeps its wrapper (``x.sum(axis=0)``).  :func:`list_keyword` does the
same for ``zeros(size=(2, 3))`` and the other factories, which have no tensor to check.
"""

from __future__ import annotations

import functools
import inspect
import numbers
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from ._keywords import MISSING, PYTHON_METHODS, Binding, list_arguments
from .tensor import Tensor

_NUMBERS = frozenset({"Number", "float", "int", "bool", "complex"})
_KNOWN = _NUMBERS | {"Tensor", "Sequence[Tensor]", "None"}


class _Parameter(NamedTuple):
    """A checked parameter: where it is, and what its annotation allows besides a tensor."""

    position: int  # from 1, as in PyTorch's messages
    name: str
    number: bool
    none: bool
    sequence: bool  # a sequence of tensors


def _checked(position: int, parameter: inspect.Parameter) -> _Parameter | None:
    """How to check ``parameter``, or None when its annotation names no tensor (or
    names a type the check does not know, which it then leaves alone)."""
    annotation = parameter.annotation
    if annotation is Tensor:
        annotation = "Tensor"
    if not isinstance(annotation, str):
        return None
    parts = {part.strip() for part in annotation.split("|")}
    if not parts <= _KNOWN or not parts & {"Tensor", "Sequence[Tensor]"}:
        return None
    return _Parameter(
        position, parameter.name, bool(parts & _NUMBERS), "None" in parts, "Sequence[Tensor]" in parts
    )


def _is_number(value) -> bool:
    return isinstance(value, (numbers.Number, np.bool_))


def reject_non_tensors(name: str, arguments: tuple) -> None:
    """Raise PyTorch's TypeError for the first of ``arguments`` ((:class:`_Parameter`
    fields, value) pairs) whose value its annotation does not allow."""
    for (position, parameter, number, none, sequence), value in arguments:
        if isinstance(value, Tensor) or (none and value is None) or (number and _is_number(value)):
            continue
        if sequence and isinstance(value, (list, tuple)):
            for k, element in enumerate(value):
                if not isinstance(element, Tensor):
                    raise TypeError(
                        f"{name}(): expected Tensor as element {k} in argument '{parameter}', "
                        f"but got {type(element).__name__}"
                    ) from None
            continue
        kind = "tuple of Tensors" if sequence else "Tensor"
        raise TypeError(
            f"{name}(): argument '{parameter}' (position {position}) must be {kind}, not {type(value).__name__}"
        ) from None


def _source(
    name: str, signature: inspect.Signature, checked: tuple[_Parameter, ...], binding: Binding | None
) -> tuple[str, dict]:
    """The wrapper's source with ``fn``'s exact parameters (and, with a ``binding``, a
    ``**`` one for the keywords PyTorch's parser binds beyond them), and the defaults
    it names."""
    kinds = inspect.Parameter
    parameters, call, defaults = [], [], {}
    listed = list(signature.parameters.values())
    unset = () if binding is None else binding.unset
    for i, p in enumerate(listed):
        if p.kind is kinds.KEYWORD_ONLY and (
            i == 0 or listed[i - 1].kind not in (p.kind, kinds.VAR_POSITIONAL)
        ):
            parameters.append("*")
        prefix = {kinds.VAR_POSITIONAL: "*", kinds.VAR_KEYWORD: "**"}.get(p.kind, "")
        text = prefix + p.name
        call.append(f"{p.name}={p.name}" if p.kind is kinds.KEYWORD_ONLY else text)
        if i in unset:
            text += "=_missing"
        elif p.default is not kinds.empty:
            defaults[f"_default{i}"] = p.default
            text += f"=_default{i}"
        parameters.append(text)
        if p.kind is kinds.POSITIONAL_ONLY and (i + 1 == len(listed) or listed[i + 1].kind is not p.kind):
            parameters.append("/")
    lines = []
    if binding is not None:
        parameters.append("**_caught")
        names = ", ".join(p.name for p in listed)
        condition = " or ".join(["_caught", *(f"{listed[i].name} is _missing" for i in unset)])
        lines += [f"    if {condition}:", f"        [{names}] = _bind(_caught, ({names},))"]
    pairs = ", ".join(f"({tuple(spec)!r}, {spec.name})" for spec in checked)
    lines += [
        "    try:",
        f"        return _fn({', '.join(call)})",
        "    except (AttributeError, TypeError):",
        f"        _reject({name!r}, ({pairs},))",
        "        raise",
    ]
    return "\n".join([f"def {name}({', '.join(parameters)}):", *lines, ""]), defaults


def parameter_checks(fn: Callable) -> tuple[_Parameter, ...]:
    """How :func:`reject_non_tensors` checks ``fn``'s parameters annotated with Tensor:
    for a function that checks its arguments in its own body, where a wrapper's frame
    would cost too much (the generated unary and binary ops)."""
    return _checks(inspect.signature(fn))


def _checks(signature: inspect.Signature) -> tuple[_Parameter, ...]:
    return tuple(
        c for position, p in enumerate(signature.parameters.values(), 1) if (c := _checked(position, p))
    )


def tensor_arguments(fn: Callable) -> Callable:
    """``fn``, raising PyTorch's TypeError when a parameter annotated ``Tensor`` (or
    ``Tensor | Number``, ``Sequence[Tensor]`` ...) got something else and ``fn`` failed
    on it, and taking the keywords PyTorch's argument parser binds beyond its signature
    (``axis=`` for ``dim=``: :mod:`irgrad._keywords`)."""
    signature = inspect.signature(fn)
    checked = _checks(signature)
    if not checked:
        raise TypeError(f"@tensor_arguments: {fn.__qualname__} has no parameter annotated Tensor")
    name, binding = fn.__name__, Binding.of(fn, signature)
    source, namespace = _source(name, signature, checked, binding)
    namespace.update(_fn=fn, _reject=reject_non_tensors, _bind=binding, _missing=MISSING)
    # Named after fn's own file, so tracebacks and irgrad's user-frame search
    # (_tracing.user_source) place the wrapper's frame inside the package.
    filename = f"{inspect.getfile(fn)} (argument check of {fn.__qualname__})"
    exec(compile(source, filename, "exec"), namespace)
    call = functools.update_wrapper(namespace[name], fn)
    call.tensor_parameters = checked
    call.torch_keywords = binding
    return call


def list_keyword(fn: Callable) -> Callable:
    """``fn``, which takes a list as ``*name`` after its positional parameters and has no
    tensor parameter (``zeros(*size, dtype=None ...)``), also taking the list as ``name=``
    (``zeros(size=(2, 3))``), as PyTorch's argument parser does.  Its keyword arguments
    pass through as they are: forwarding each keyword-only parameter by name from a
    wrapper with ``fn``'s signature would cost a call of ``zeros`` ~300 ns."""
    parameters = list(inspect.signature(fn).parameters.values())
    position = next(i for i, p in enumerate(parameters) if p.kind is p.VAR_POSITIONAL)
    name, function = parameters[position].name, fn.__name__

    @functools.wraps(fn)
    def call(*args, **kwargs):
        if not kwargs:
            return fn(*args)
        if name in kwargs:
            args = args[:position] + list_arguments(function, name, args[position:], kwargs.pop(name))
        return fn(*args, **kwargs)

    return call


def unchecked_method(fn: Callable, name: str) -> Callable:
    """What to attach as the Tensor method ``name``: ``fn`` without its wrapper when the
    only tensor it takes is the first (``self``, a tensor by construction) and PyTorch's
    method binds no keyword beyond the signature for another parameter, so that most
    methods pay nothing; else, for a method whose one such keyword names its list
    (``x.view(size=...)``), the lighter :func:`list_keyword`; the wrapper otherwise
    (``x.sum(axis=0)``)."""
    checked = getattr(fn, "tensor_parameters", None)
    if checked is None or any(spec.position != 1 for spec in checked):
        return fn
    raw = getattr(fn, "__wrapped__", fn)  # (a function checking in its body has no wrapper)
    binding = getattr(fn, "torch_keywords", None)
    if binding is None or not binding.method_keywords or name in PYTHON_METHODS:
        return raw
    if binding.method_keywords == {binding.list_name}:
        return list_keyword(raw)
    return fn
