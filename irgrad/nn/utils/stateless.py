"""Calling a module with some of its parameters and buffers replaced
(``torch.nn.utils.stateless``; ``irgrad.func.functional_call`` is the current API).

Inside :func:`reparametrized` the given tensors take the place of the module's own (by
their dotted names, in the module's ``_parameters`` and ``_buffers``), and the module's
own are put back afterwards, even when the body raises.  A weight tied between several
names (the same Parameter registered twice) is replaced under all of them, unless
``tie_weights=False``.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

from ...tensor import Tensor

__all__ = ["functional_call", "reparametrized"]


@contextlib.contextmanager
def reparametrized(
    module,
    parameter_and_buffer_dicts: dict[str, Tensor] | Sequence[dict[str, Tensor]],
    *,
    tie_weights: bool = True,
    strict: bool = False,
) -> Iterator[None]:
    """``module`` with the named tensors in place of its own, for the ``with`` body."""
    replacements = _merged(parameter_and_buffer_dicts)
    if tie_weights:
        replacements = _with_tied_names(module, replacements)
    if strict:
        _check_keys(module, replacements)
    undo = []
    try:
        for name, value in replacements.items():
            undo.append(_replace(module, name, value))
        yield
    finally:
        for restore in reversed(undo):
            restore()


def call_args(args: Any) -> tuple:
    """A call's positional arguments as ``functional_call`` takes them: None, one value, or a tuple."""
    if args is None:
        return ()
    return args if isinstance(args, tuple) else (args,)


def functional_call(
    module,
    parameters_and_buffers: dict[str, Tensor],
    args: Any = None,
    kwargs: dict[str, Any] | None = None,
    *,
    tie_weights: bool = True,
    strict: bool = False,
) -> Any:
    """``module(*args, **kwargs)`` with the named tensors in place of its own (deprecated:
    ``irgrad.func.functional_call`` is the same call)."""
    warnings.warn(
        "This API is deprecated as of PyTorch 2.0 and will be removed in a future version of PyTorch. "
        "Please use torch.func.functional_call instead which is a drop-in replacement for this API.",
        FutureWarning,
        stacklevel=2,
    )
    with reparametrized(module, parameters_and_buffers, tie_weights=tie_weights, strict=strict):
        return module(*call_args(args), **(kwargs or {}))


def _merged(dicts) -> dict[str, Tensor]:
    if isinstance(dicts, dict):
        return dict(dicts)
    merged: dict[str, Tensor] = {}
    for d in dicts:
        repeated = [k for k in d if k in merged]
        if repeated:
            raise ValueError(
                f"{repeated} appeared in multiple dictionaries; behavior of functional call is ambiguous"
            )
        merged.update(d)
    return merged


def _own_tensors(module) -> dict[str, Any]:
    """Every parameter and buffer name of ``module``, tied names included, to its tensor."""
    named = dict(module.named_parameters(remove_duplicate=False))
    named.update(module.named_buffers(remove_duplicate=False))
    return named


def _with_tied_names(module, replacements: dict[str, Tensor]) -> dict[str, Tensor]:
    """``replacements`` extended to every other name of a tensor it replaces."""
    own = _own_tensors(module)
    names_of: dict[int, list[str]] = {}
    for name, tensor in own.items():
        if tensor is not None:
            names_of.setdefault(id(tensor), []).append(name)
    out = dict(replacements)
    for name, value in replacements.items():
        tied = names_of.get(id(own.get(name)), []) if name in own else []
        given = [n for n in tied if n in replacements]
        if len(given) > 1 and any(replacements[n] is not value for n in given):
            raise ValueError(
                f"functional_call got multiple values for keys {sorted(given)}, which are tied. "
                "Consider using tie_weights=False"
            )
        for other in tied:
            out.setdefault(other, value)
    return out


def _check_keys(module, replacements: dict[str, Tensor]) -> None:
    own = _own_tensors(module)
    missing = [k for k in own if k not in replacements]
    unexpected = [k for k in replacements if k not in own]
    if missing or unexpected:
        lines = []
        if unexpected:
            lines.append("Unexpected key(s): " + ", ".join(f"'{k}'" for k in unexpected) + ".")
        if missing:
            lines.append("Missing key(s): " + ", ".join(f"'{k}'" for k in missing) + ".")
        raise RuntimeError(
            f"Error(s) in reparametrizing for {type(module).__name__}:\n\t" + "\n\t".join(lines)
        )


_ABSENT = object()


def _replace(module, name: str, value: Any):
    """Put ``value`` at ``name`` (a registered parameter or buffer, or else a plain
    attribute); return what puts the module's own back."""
    owner_path, _, attr = name.rpartition(".")
    owner = module.get_submodule(owner_path) if owner_path else module
    for table in (owner._parameters, owner._buffers):
        if attr in table:
            old = table[attr]
            table[attr] = value

            def restore(table=table, old=old):
                table[attr] = old

            return restore
    old = owner.__dict__.get(attr, _ABSENT)
    object.__setattr__(owner, attr, value)

    def restore_attribute():
        if old is _ABSENT:
            object.__delattr__(owner, attr)
        else:
            object.__setattr__(owner, attr, old)

    return restore_attribute
