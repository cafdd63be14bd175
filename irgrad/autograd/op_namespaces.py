"""The op namespaces gradient rules are written against (the ``F`` in ``vjp(F, g, ctx)``).

``NUMPY_OPS.mul`` is the ``mul`` kernel itself: rules run on arrays, recording
nothing (plain ``backward``).  ``TENSOR_OPS.mul`` dispatches on Tensors, so the
rule's work is recorded and can be differentiated (``create_graph=True``).  The
IR autodiff pass supplies a third namespace that emits graph nodes.
"""

from __future__ import annotations

from types import SimpleNamespace

from .. import dispatch
from ..creation import ensure_tensor
from ..ops import OPS, DtypeRule, Kind
from ..tensor_ops.pointwise import where

NUMPY_OPS = SimpleNamespace(**{name: op.eval for name, op in OPS.items()})


class _TensorOps:
    """Resolves each op name to a Tensor-level call through dispatch, on first use."""

    def __getattr__(self, name: str):
        op = OPS[name]
        if name == "where":
            call = where
        elif op.kind is Kind.ELEMENTWISE and op.dtype_rule is not DtypeRule.NONE:

            def call(*args, **attrs):
                if attrs:
                    return dispatch.apply(op, args, attrs)
                return dispatch.elementwise(op, *args)

        else:

            def call(*args, **attrs):
                return dispatch.apply(op, tuple(ensure_tensor(a) for a in args), attrs)

        setattr(self, name, call)
        return call


TENSOR_OPS = _TensorOps()
