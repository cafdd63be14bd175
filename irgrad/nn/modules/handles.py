"""``RemovableHandle``: what ``register_*_hook`` returns (modules, optimizers, tensors)."""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

_handle_ids = itertools.count()


class RemovableHandle:
    """Returned by ``register_*_hook``: ``remove()`` unregisters the hook (also a context manager)."""

    def __init__(self, *stores: dict | set) -> None:
        self.id = next(_handle_ids)
        self._stores = stores

    def remove(self) -> None:
        """Unregister the hook (from its dict, and from any set of flagged hook ids)."""
        for store in self._stores:
            if isinstance(store, dict):
                store.pop(self.id, None)
            else:
                store.discard(self.id)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()


def add_hook(store: OrderedDict, hook: Callable, prepend: bool = False, *also: dict | set) -> RemovableHandle:
    """Register ``hook`` in ``store`` (first if ``prepend``); the handle removes it, and
    its id from the stores ``also`` (sets of flagged hook ids, a registry of them all)."""
    handle = RemovableHandle(store, *also)
    store[handle.id] = hook
    if prepend:
        store.move_to_end(handle.id, last=False)
    return handle


def register_hook(owner: Any, name: str, hook: Callable, prepend: bool = False) -> RemovableHandle:
    """:func:`add_hook` on ``owner``'s own store ``name`` (an OrderedDict in its
    ``__dict__``, made on first use: until then its class's empty one stands in)."""
    hooks = owner.__dict__.get(name)
    if hooks is None:
        hooks = owner.__dict__[name] = OrderedDict()
    return add_hook(hooks, hook, prepend)
