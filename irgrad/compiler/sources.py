"""Sources: the paths by which a compiled function reaches state it did not create.

A *source* is a chain of :class:`Step` from one of a call's roots (the function or
module itself, its positional arguments, its keyword arguments) to an object:
``fn.__globals__['model'].__dict__['_modules']['0'].__dict__['_parameters']['weight']``
is how a function reaches a global model's first weight.  TorchDynamo's guards name
the same facts (``G['model'].0.weight``); here they come from walking the object graph
rather than from bytecode.

Each step can be *read* (follow it from a parent object), *written* (rebind what the
parent holds there, to replay a side effect), rendered as a Python *expression*
(guards are generated code) and *described* for people (``explain()``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

ROOT_FN, ROOT_ARGS, ROOT_KWARGS = 0, 1, 2


class Step(NamedTuple):
    """One hop from a parent object: ``how`` it is taken and its ``key``.

    Keys: an attribute, global or slot name; a container key or index; ``(index,
    name)`` of a closure cell; ``ROOT_*`` for a root."""

    how: str
    key: Any = None


# How each kind of step reads, as an expression template over the parent ``{p}``.
# ``{k}`` is the key rendered as a literal (a Python constant or a ``K<i>`` constant of the guard).
_EXPR = {
    "root": "R[{k}]",
    "item": "{p}[{k}]",
    "attr": "{p}.__dict__[{k}]",
    "slot": "{p}.{name}",
    "cell": "{p}.__closure__[{index}].cell_contents",
    "global": "{p}.__globals__[{k}]",
    "default": "{p}.__defaults__[{k}]",
    "kwdefault": "{p}.__kwdefaults__[{k}]",
    "self": "{p}.__self__",
    "func": "{p}.__func__",
    "partial": "{p}.{name}",
    "type": "type({p})",
    "base": "{p}.__bases__[{k}]",
    "compiled": "{p}._compiled.fn",
}


def read(parent: Any, step: Step) -> Any:
    """The object ``step`` leads to from ``parent`` (raises if it is gone)."""
    how, key = step
    if how == "item":
        return parent[key]
    if how == "attr":
        return parent.__dict__[key]
    if how == "slot" or how == "partial":
        return getattr(parent, key)
    if how == "cell":
        return parent.__closure__[key[0]].cell_contents
    if how == "global":
        return parent.__globals__[key]
    if how == "default":
        return parent.__defaults__[key]
    if how == "kwdefault":
        return parent.__kwdefaults__[key]
    if how == "self":
        return parent.__self__
    if how == "func":
        return parent.__func__
    if how == "type":
        return type(parent)
    if how == "base":
        return parent.__bases__[key]
    if how == "compiled":
        return parent._compiled.fn
    if how == "root":
        return parent[key]
    raise ValueError(f"unknown source step {how!r}")


def write(parent: Any, step: Step, value: Any) -> None:
    """Make ``parent`` hold ``value`` where ``step`` reads (a replayed rebinding)."""
    how, key = step
    if how == "item":
        parent[key] = value
    elif how == "attr" and isinstance(parent, type):  # a class's dict is read-only: setattr
        setattr(parent, key, value)
    elif how == "attr":
        parent.__dict__[key] = value
    elif how == "slot":
        setattr(parent, key, value)
    elif how == "cell":
        parent.__closure__[key[0]].cell_contents = value
    elif how == "global":
        parent.__globals__[key] = value
    else:
        raise ValueError(f"cannot rebind through a {how!r} step")


def delete(parent: Any, step: Step) -> None:
    """Remove what ``parent`` holds at ``step`` (a replayed ``del``)."""
    how, key = step
    if how == "item":
        del parent[key]
    elif how == "attr" and isinstance(parent, type):
        delattr(parent, key)
    elif how == "attr":
        del parent.__dict__[key]
    elif how == "global":
        del parent.__globals__[key]
    else:
        raise ValueError(f"cannot delete through a {how!r} step")


def writable(step: Step) -> bool:
    return step.how in ("item", "attr", "slot", "cell", "global")


def expression(step: Step, parent: str, literal) -> str:
    """``step`` as Python source reading from the expression ``parent``.

    ``literal(key)`` renders a key: a Python literal where one exists, else a reference
    to a constant the generated code receives.
    """
    template = _EXPR[step.how]
    if step.how == "cell":
        return template.format(p=parent, index=step.key[0])
    return template.format(p=parent, k=literal(step.key), name=step.key)


_CONTAINERS = ("_parameters", "_buffers", "_modules")


def describe(path: tuple[Step, ...], name_of=None) -> str:
    """A readable name for a path: ``model.0.weight``, ``opt.state[model.0.weight]['step']``.

    Module containers (``_parameters``, ``_buffers``, ``_modules``) read as attributes,
    as users write them; ``name_of(obj)`` names object keys (a tensor keying
    ``optimizer.state``) by their own source where they have one.
    """
    text = ""
    hidden = False
    for how, key in path:
        if how == "root":
            text = ("fn", "args", "kwargs")[key]
        elif how == "global":
            text = key
        elif how == "cell":
            text = key[1]  # the free variable's name
        elif how == "attr" and key in _CONTAINERS:
            hidden = True
            continue
        elif how == "attr" or how == "slot":
            text += "." + (key.lstrip("_") if how == "slot" else key)
        elif how == "item" and hidden:
            text += f".{key}"
        elif how == "item":
            if isinstance(key, (str, int, float, bool)) or key is None:
                text += f"[{key!r}]"
            else:
                text += f"[{name_of(key) if name_of else type(key).__name__}]"
        elif how == "self":
            text += ".__self__"
        elif how == "default":
            text += f".__defaults__[{key}]"
        elif how == "kwdefault":
            text += f".__kwdefaults__[{key!r}]"
        elif how == "type":
            text = f"type({text})"
        elif how == "base":
            text += f".__bases__[{key}]"
        elif how == "compiled" or how == "func":
            continue
        else:
            text += f".{key}"
        hidden = False
    if text.startswith("args["):
        return text
    if text.startswith("fn."):
        return text[3:]  # a module compiled as itself: 'fc.weight', not 'fn.fc.weight'
    return text
