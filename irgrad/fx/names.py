"""Names in a graph and in its generated code, as torch.fx chooses them.

A node's name comes from its target (``add``, ``linear``, ``layer1_0_conv1`` for the
module ``layer1.0.conv1``), made unique with a numeric suffix (``add_1``); names never
shadow a Python keyword or builtin.  A function in the generated code is written by the
public path it has in irgrad (``irgrad.relu``, ``irgrad.nn.functional.relu``), as
torch.fx writes ``torch.relu``; any other function becomes a global named after its
module and name (``__main___my_fn``).  :func:`public_functions` lists the functions of
irgrad's public namespaces, which is also what the tracer intercepts.
"""

from __future__ import annotations

import builtins
import functools
import importlib
import keyword
import math
import re
import types
from collections.abc import Callable
from typing import Any

# irgrad's public namespaces whose functions a graph calls by their public path, in the
# order a path is looked for (torch.fx writes ``torch.conv2d`` for torch.nn.functional's
# conv2d, which is the same function).
PUBLIC_NAMESPACES = ("irgrad", "irgrad.nn.functional", "irgrad.linalg", "irgrad.special")

# Functions on Python objects, not tensors: a Proxy passed to them is no tensor either.
_NOT_INTERCEPTED = frozenset({"is_tensor", "is_storage", "typename", "compile", "is_grad_enabled"})
# Private names that are public API all the same.
_PRIVATE_PUBLIC = frozenset({"_assert"})

_snake_case_sub = functools.partial(re.compile(r"(?<=[a-z])([A-Z])").sub, r"_\1")
_illegal_char_regex = re.compile("[^0-9a-zA-Z_]+")
_name_regex = re.compile(r"^([a-zA-Z_][0-9a-zA-Z_]*?)(?:_(\d+))?$")


def custom_builtins() -> dict[str, Any]:
    """The globals every generated function has (torch.fx's ``_custom_builtins``)."""
    import irgrad  # (the package being initialised imports this one: a function-time import)

    return {
        "inf": math.inf,
        "nan": math.nan,
        "NoneType": type(None),
        "irgrad": irgrad,
        "device": irgrad.device,
    }


@functools.cache
def _illegal_names() -> dict[str, Any]:
    names: dict[str, Any] = {k: object() for k in keyword.kwlist}
    names.update(builtins.__dict__)
    names.update(custom_builtins())
    return names


def snake_case(s: str) -> str:
    """``pascalCase`` -> ``pascal_case``, as torch.fx turns a target into a name."""
    return _snake_case_sub(s).lower()


def target_to_str(target: Any) -> str:
    """The name a node of ``target`` is given before it is made unique."""
    if callable(target):
        op = public_name(target) or target.__name__
    else:
        op = target
        if op.startswith("__") and op.endswith("__"):
            op = op[2:-2]
    return snake_case(op)


class Namespace:
    """Unique names associated with objects: one name an object, no name twice, no
    builtin shadowed unless the object is that builtin (torch.fx's ``_Namespace``)."""

    def __init__(self) -> None:
        self._obj_to_name: dict[Any, str] = {}
        self._used_names: set[str] = set()
        self._base_count: dict[str, int] = {}

    def create_name(self, candidate: str, obj: Any) -> str:
        if obj is not None and obj in self._obj_to_name:
            return self._obj_to_name[obj]
        match = _name_regex.match(candidate)
        if match is None:
            candidate = _illegal_char_regex.sub("_", candidate) or "_unnamed"
            if candidate[0].isdigit():
                candidate = f"_{candidate}"
            match = _name_regex.match(candidate)
        base, num = match.group(1, 2)
        if num is None or candidate in self._used_names:
            num = self._base_count.get(base, 0)
            if _illegal_names().get(candidate, obj) is not obj:
                num += 1
                candidate = f"{base}_{num}"
        else:
            num = int(num)
        while candidate in self._used_names:
            num += 1
            candidate = f"{base}_{num}"
        self._used_names.add(candidate)
        self._base_count[base] = num
        if obj is not None:
            self._obj_to_name[obj] = candidate
        return candidate

    def associate_name_with_obj(self, name: str, obj: Any) -> None:
        self._obj_to_name.setdefault(obj, name)


def _is_function(value: Any) -> bool:
    return isinstance(value, (types.FunctionType, types.BuiltinFunctionType))


@functools.cache
def public_functions() -> dict[int, tuple[Callable, str]]:
    """Every function of irgrad's public namespaces by id: (function, public path).

    A function under several names (``irgrad.asin`` is ``irgrad.arcsin``) takes the one
    equal to its ``__name__``, else the first; a function renamed on export
    (``legacy_qr`` as ``irgrad.qr``) takes its public name.
    """
    index: dict[int, tuple[Callable, str]] = {}
    for namespace in PUBLIC_NAMESPACES:
        module = importlib.import_module(namespace)
        for name, value in vars(module).items():
            private = name.startswith("_") and name not in _PRIVATE_PUBLIC
            if private or name in _NOT_INTERCEPTED or not _is_function(value):
                continue
            known = index.get(id(value))
            same_namespace = known is not None and known[1].rpartition(".")[0] == namespace
            if known is None or (same_namespace and name == value.__name__):
                index[id(value)] = (value, f"{namespace}.{name}")
    return index


def public_path(fn: Any) -> str | None:
    """``irgrad.relu`` for irgrad's relu: the path generated code calls ``fn`` by."""
    known = public_functions().get(id(fn))
    return known[1] if known is not None and known[0] is fn else None


def public_name(fn: Any) -> str | None:
    path = public_path(fn)
    return None if path is None else path.rpartition(".")[2]


def qualified_name(fn: Callable) -> str:
    """The dotted name of ``fn`` (torch.fx's ``_get_qualified_name``)."""
    path = public_path(fn)
    if path is not None:
        return path
    name = fn.__name__
    if getattr(builtins, name, None) is fn:
        return name
    module = getattr(fn, "__module__", None) or "builtins"
    return f"{module}.{name}"


def pretty_target(target: Any) -> str:
    """A target as a graph's text shows it (``operator.add``, ``irgrad.relu``)."""
    if isinstance(target, str):
        return target
    module = getattr(target, "__module__", None)
    name = getattr(target, "__name__", None)
    if name is not None and module == "builtins":
        return f"builtins.{name}"
    if name is not None and module == "_operator":
        return f"operator.{name}"
    return qualified_name(target)
