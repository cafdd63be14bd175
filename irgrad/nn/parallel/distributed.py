"""``DistributedDataParallel``: every process trains a replica on its shard of the batch,
and the gradients are averaged across processes during ``backward()``.

At construction rank 0's parameters and buffers are broadcast to every rank.  The
parameters are grouped into buckets of about ``bucket_cap_mb`` (in reverse order of
registration, as PyTorch does, which is roughly the order backward produces their
gradients).  Each parameter's post-accumulate-grad hook copies its gradient into its
bucket; when a bucket is full it starts a non-blocking allreduce of it, so communication
overlaps the rest of the backward; when the last bucket has started, the hook waits for
all of them and writes the averaged gradients back, so ``backward()`` returns with the
gradients already averaged.  ``no_sync()`` skips the reduction (gradient accumulation);
``find_unused_parameters=True`` marks parameters the forward did not use as ready.

With ``irgrad.compile``, wrap the compiled model: ``DistributedDataParallel(irgrad.compile(model))``.
The forward runs compiled and ``backward()`` runs its compiled backward graph, whose
parameter gradients reach the same hooks.  (Compiling the DDP wrapper instead would put
the buffer broadcasts and the hook bookkeeping inside a traced call.)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from ...distributed import ReduceOp, all_reduce, broadcast, get_world_size
from ...recording.grad_mode import is_grad_enabled, no_grad
from ...tensor import Tensor
from ...utils.pytree import flatten
from ..modules.module import Module


class _Bucket:
    """Parameters whose gradients travel in one allreduce, and the flat buffer they use."""

    def __init__(self, params: list[Tensor]) -> None:
        self.params = params
        self.offsets = np.cumsum([0] + [p._data.size for p in params])
        self.buffer = Tensor._wrap(np.zeros(int(self.offsets[-1]), params[0]._data.dtype))
        self.ready = 0
        self.work = None

    def slot(self, k: int) -> np.ndarray:
        return self.buffer._data[self.offsets[k] : self.offsets[k + 1]]


class DistributedDataParallel(Module):
    """Wraps ``module`` so that ``backward()`` leaves the gradients averaged over ranks."""

    def __init__(
        self,
        module: Module,
        device_ids=None,
        output_device=None,
        dim: int = 0,
        broadcast_buffers: bool = True,
        process_group=None,
        bucket_cap_mb: float = 25,
        find_unused_parameters: bool = False,
        gradient_as_bucket_view: bool = False,
        static_graph: bool = False,
    ) -> None:
        super().__init__()
        # DDP around a compiled model (irgrad.compile(model)): ``module`` is the original
        # model (its parameters and state dict), calls go through the compiled one, whose
        # compiled backward gives the parameters their gradients through the same hooks.
        self.module = getattr(module, "_orig_mod", module)
        self.__dict__["_call"] = module
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.world_size = get_world_size()
        with no_grad():
            for t in list(module.parameters()) + list(module.buffers()):
                broadcast(t, 0)
        params = [p for p in module.parameters() if p.requires_grad]
        self._buckets = _make_buckets(params, int(bucket_cap_mb * 2**20))
        self._where = {id(p): (b, k) for b in self._buckets for k, p in enumerate(b.params)}
        self._sync = True
        self._expecting = False  # a forward ran whose backward has not finished reducing
        for p in params:
            p.register_post_accumulate_grad_hook(self._gradient_ready)

    # --- forward --------------------------------------------------------------------------
    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        if self._expecting:
            raise RuntimeError(
                "Expected to have finished reduction in the prior iteration before starting a new one. "
                "This error indicates that your module has parameters that were not used in producing "
                "loss. You can enable unused parameter detection by passing the keyword argument "
                "`find_unused_parameters=True` to `torch.nn.parallel.DistributedDataParallel`."
            )
        if self.broadcast_buffers and self.world_size > 1:
            with no_grad():
                for b in self.module.buffers():
                    broadcast(b, 0)
        out = self._call(*inputs, **kwargs)
        if self._sync and is_grad_enabled() and self.world_size > 1:
            for bucket in self._buckets:
                bucket.ready, bucket.work = 0, None
                bucket.buffer._data[...] = 0
            self._expecting = True
            if self.find_unused_parameters:
                used = _reachable_leaves(out)
                for b in self._buckets:
                    for p in b.params:
                        if id(p) not in used:
                            self._mark_ready(b)
        return out

    @contextmanager
    def no_sync(self) -> Iterator[None]:
        """Backward passes inside accumulate local gradients without communicating."""
        previous, self._sync = self._sync, False
        try:
            yield
        finally:
            self._sync = previous

    # --- the reduction ------------------------------------------------------------------------
    def _gradient_ready(self, p: Tensor) -> None:
        if not self._expecting:
            return
        bucket, k = self._where[id(p)]
        np.copyto(bucket.slot(k), p._grad._data.reshape(-1))
        for started in self._buckets:  # MPI moves started allreduces on only while called
            if started.work is not None:
                started.work.is_completed()
        self._mark_ready(bucket)

    def _mark_ready(self, bucket: _Bucket) -> None:
        bucket.ready += 1
        if bucket.ready == len(bucket.params):
            bucket.work = all_reduce(bucket.buffer, ReduceOp.AVG, async_op=True)
            if all(b.work is not None for b in self._buckets):
                self._finish()

    def _finish(self) -> None:
        """Wait for every bucket and write the averaged gradients back."""
        for bucket in self._buckets:
            bucket.work.wait()
            for k, p in enumerate(bucket.params):
                averaged = bucket.slot(k).reshape(p._data.shape)
                if p._grad is not None:
                    np.copyto(p._grad._data, averaged)
                    p._grad._bump_version()
                elif averaged.any():  # unused here, used by another rank
                    p._grad = Tensor._wrap(averaged.copy())
        self._expecting = False


def _make_buckets(params: list[Tensor], cap_bytes: int) -> list[_Bucket]:
    """Buckets of at most ``cap_bytes`` (a larger parameter gets its own), one dtype each,
    filled in reverse order of registration."""
    buckets, current, size = [], [], 0
    for p in reversed(params):
        nbytes = p._data.nbytes
        if current and (size + nbytes > cap_bytes or p._data.dtype != current[0]._data.dtype):
            buckets.append(_Bucket(current))
            current, size = [], 0
        current.append(p)
        size += nbytes
    if current:
        buckets.append(_Bucket(current))
    return buckets


def _reachable_leaves(out: Any) -> set[int]:
    """Ids of the leaf tensors the autograd graph of ``out``'s tensors reaches."""
    leaves, seen = set(), set()
    tensors = flatten(out, lambda x: isinstance(x, Tensor))[0]
    stack = [t._node for t in tensors if isinstance(t, Tensor) and t._node is not None]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        for edge in node.edges:
            if type(edge) is tuple:
                stack.append(edge[0])
            elif edge is not None:
                leaves.add(id(edge))
    return leaves
