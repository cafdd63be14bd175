"""``ShapeProp``: each node's tensor metadata recorded by running the graph, as torch.fx's.

``ShapeProp(gm).propagate(*args)`` runs the GraphModule with an :class:`Interpreter`
and stores in ``node.meta["tensor_meta"]`` a :class:`TensorMetadata` for a tensor
result (a structure of them for tuples and lists), and the result's type in
``node.meta["type"]``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ...dtypes import dtype
from ...memory_formats import contiguous_format, memory_format
from ...tensor import Size, Tensor
from ..interpreter import Interpreter
from ..node import Node, map_aggregate

__all__ = ["ShapeProp", "TensorMetadata"]


class TensorMetadata(NamedTuple):
    shape: Size
    dtype: dtype
    requires_grad: bool
    stride: tuple[int, ...]
    memory_format: memory_format | None
    is_quantized: bool
    qparams: dict[str, Any]


def _extract_tensor_metadata(result: Tensor) -> TensorMetadata:
    fmt = contiguous_format if result.is_contiguous() else None
    return TensorMetadata(result.shape, result.dtype, result.requires_grad, result.stride(), fmt, False, {})


class ShapeProp(Interpreter):
    """Records each node's result's metadata while running the graph."""

    def run_node(self, n: Node) -> Any:
        result = super().run_node(n)
        found_tensor = False

        def extract(obj: Any) -> Any:
            nonlocal found_tensor
            if isinstance(obj, Tensor):
                found_tensor = True
                return _extract_tensor_metadata(obj)
            return obj

        meta = map_aggregate(result, extract)
        if found_tensor:
            n.meta["tensor_meta"] = meta
        n.meta["type"] = type(result)
        return result

    def propagate(self, *args: Any) -> Any:
        """Run the graph on ``args``, recording every node's metadata; the output."""
        return super().run(*args)
