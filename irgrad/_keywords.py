"""The keywords PyTorch's argument parser binds beyond a function's Python signature.

PyTorch parses every call of its C++ functions (``torch.*``, ``torch.linalg.*``,
``torch.special.*``, Tensor methods and the few ``torch.nn.functional`` functions bound
from C++) with one parser, which also binds

* NumPy's names of four parameters (``numpy_compatibility_arg_names`` in
  ``torch/csrc/utils/python_arg_parser.cpp``): ``axis`` for ``dim``, ``keepdims`` for
  ``keepdim``, ``x``, ``a`` or ``x1`` for ``input`` and ``x2`` for ``other``, so that
  scripts write ``x.sum(axis=-1, keepdims=True)`` and ``torch.cat(xs, axis=1)``;
* a list parameter, which also takes its items as separate arguments, by its name:
  ``torch.zeros(size=(2, 3))``, ``x.view(size=(6,))``, ``x.reshape(shape=(3, 2))``.

A Python signature binds neither, and such a call fails before the function runs.  So
the wrapper :mod:`irgrad._arguments` generates for a public function ends its
parameters with a ``**`` one that catches what Python left over (a correct call pays
for an empty dict), and a :class:`Binding` binds it as the parser does: an alias
stands for its parameter only where that was not given, and a keyword left over is
PyTorch's TypeError (``sum() got an unexpected keyword argument 'axis'``, also for
``sum(x, dim=0, axis=0)``).  A parameter with a default counts as given when its value
is not that default, which accepts ``sum(x, None, axis=0)`` where PyTorch would not.

PyTorch's functions written in Python never meet the parser and take none of these
keywords (``torch.split(x, 1, axis=0)``, ``torch.nn.functional.softmax(x, axis=1)`` are
TypeErrors): :func:`parsed` tells them apart.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

NUMPY_NAMES = {"dim": ("axis",), "keepdim": ("keepdims",), "input": ("x", "a", "x1"), "other": ("x2",)}

# PyTorch's names of the list parameters irgrad writes as ``*name`` (``zeros(*size)``,
# ``Tensor.view(*size)``, ``Tensor.reshape(*shape)``, ``Tensor.permute(*dims)`` ...).
LIST_PARAMETERS = frozenset({"size", "shape", "dims", "repeats"})

# The torch.* functions PyTorch writes in Python (torch/functional.py ...; torch.nn.functional.pad)
# among those with a parameter above, by the name irgrad defines them under (tensor_norm is
# torch.norm).
PYTHON_FUNCTIONS = frozenset({"tensor_norm", "split", "unique", "unique_consecutive", "matrix_rank", "pad"})

# Tensor methods PyTorch writes in Python (torch/_tensor.py) whose torch.* function it parses.
PYTHON_METHODS = frozenset({"unflatten"})

# torch.nn.functional is written in Python, but these of its functions are bound from C++.
PARSED_FUNCTIONAL = frozenset(
    """adaptive_avg_pool1d avg_pool1d avg_pool2d avg_pool3d channel_shuffle conv1d conv2d conv3d
    conv_transpose1d conv_transpose2d conv_transpose3d cosine_similarity elu_ gelu hardshrink hardtanh_
    leaky_relu_ linear logsigmoid native_channel_shuffle pairwise_distance pdist pixel_shuffle
    pixel_unshuffle prelu relu_ rrelu_ softplus softshrink""".split()
)

MISSING = object()  # the default a wrapper gives a parameter that an alias may stand for

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def parsed(fn: Callable) -> bool:
    """Whether PyTorch's argument parser reads the calls of ``fn``'s PyTorch counterpart."""
    if fn.__module__.startswith("irgrad.nn."):
        return fn.__name__ in PARSED_FUNCTIONAL
    return fn.__name__ not in PYTHON_FUNCTIONS


def _listed(names: list[str]) -> str:
    """Names as Python lists them in its errors: 'a', 'a' and 'b', 'a', 'b', and 'c'."""
    quoted = [f"'{name}'" for name in names]
    if len(quoted) <= 2:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + ", and " + quoted[-1]


class Binding:
    """How the wrapper of one function binds the keywords it caught.

    ``unset`` are the positions of the required parameters the wrapper gives the
    :data:`MISSING` default: those an alias may stand for (``cumsum(x, axis=0)`` gives
    no ``dim``), and the positional ones after them, which can then no longer be
    required.  ``method_keywords`` are the keywords the method form takes, whose first
    parameter is ``self``."""

    def __init__(self, fn: Callable, signature: inspect.Signature) -> None:
        parameters = list(signature.parameters.values())
        self.name = fn.__name__
        self.names = tuple(p.name for p in parameters)
        self.defaults = tuple(p.default for p in parameters)
        self.kinds = tuple(p.kind for p in parameters)
        self.aliases = {
            i: NUMPY_NAMES[p.name]
            for i, p in enumerate(parameters)
            if p.name in NUMPY_NAMES and p.kind in (*_POSITIONAL, p.KEYWORD_ONLY)
        }
        self.list_position = next(
            (i for i, p in enumerate(parameters) if p.kind is p.VAR_POSITIONAL and p.name in LIST_PARAMETERS),
            None,
        )
        self.list_name = None if self.list_position is None else self.names[self.list_position]
        unset, follows = [], False
        for i, p in enumerate(parameters):
            required = p.default is p.empty and p.kind in (*_POSITIONAL, p.KEYWORD_ONLY)
            follows = follows or (i in self.aliases and p.kind in _POSITIONAL)
            if required and (i in self.aliases or (follows and p.kind in _POSITIONAL)):
                unset.append(i)
        self.unset = tuple(unset)
        self.method_keywords = frozenset(
            [alias for i, aliases in self.aliases.items() if i > 0 for alias in aliases]
            + ([] if self.list_name is None else [self.list_name])
        )

    @classmethod
    def of(cls, fn: Callable, signature: inspect.Signature) -> Binding | None:
        """``fn``'s binding, or None when PyTorch's parser binds nothing beyond its
        signature (or ``fn`` takes any keyword itself)."""
        binding = cls(fn, signature)
        has_var_keyword = inspect.Parameter.VAR_KEYWORD in binding.kinds
        if has_var_keyword or not parsed(fn) or not (binding.aliases or binding.list_name is not None):
            return None
        return binding

    def __call__(self, caught: dict, values: tuple) -> tuple:
        """``values`` (one per parameter, :data:`MISSING` where not given) with the
        ``caught`` keywords bound, or PyTorch's TypeError for a keyword left over."""
        values, caught = list(values), dict(caught)
        for i, aliases in self.aliases.items():
            if values[i] is MISSING or values[i] is self.defaults[i]:
                alias = next((alias for alias in aliases if alias in caught), None)
                if alias is not None:
                    values[i] = caught.pop(alias)
        if self.list_name in caught:
            values[self.list_position] = list_arguments(
                self.name, self.list_name, values[self.list_position], caught.pop(self.list_name)
            )
        if caught:
            raise TypeError(f"{self.name}() got an unexpected keyword argument '{next(iter(caught))}'")
        for kinds, what in ((_POSITIONAL, "positional"), ((inspect.Parameter.KEYWORD_ONLY,), "keyword-only")):
            missing = [self.names[i] for i in self.unset if values[i] is MISSING and self.kinds[i] in kinds]
            if missing:
                s = "s" if len(missing) > 1 else ""
                raise TypeError(
                    f"{self.name}() missing {len(missing)} required {what} argument{s}: {_listed(missing)}"
                )
        return tuple(values)


def list_arguments(function: str, name: str, given: tuple, value) -> tuple:
    """The ``*name`` arguments of ``function`` called with ``name=value`` (and ``given`` as
    its ``*name``): the sequence as the one argument, or PyTorch's TypeError."""
    if given:
        raise TypeError(f"{function}() got multiple values for argument '{name}'")
    if not isinstance(value, (tuple, list)):
        raise TypeError(f"{function}(): argument '{name}' must be tuple of ints, not {type(value).__name__}")
    return (value,)
