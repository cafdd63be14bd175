"""``RemovableHandle``: what ``register_*_hook`` returns (modules, optimizers, tensors)."""

from __future__ import annotations

import itertools
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
