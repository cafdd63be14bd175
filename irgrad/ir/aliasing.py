"""Whether a graph run may write an input that another input's memory overlaps.

A graph is traced, and compiled, for arguments that are distinct tensors: an input it
updates in place is written once its new value is computed, and every other input is
read as it was.  Called with two arguments over one memory (``f(a, a.view(4))``), the
other would have to see the write, which the graph never planned for: such a call must
run another way (eagerly).  The check is cheap in the usual case: distinct arrays that
own their memory cannot overlap.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..ops.strides import byte_span


def writes_overlap(arrays: Sequence, written: Sequence[int]) -> bool:
    """Whether an array at a position in ``written`` shares memory with another of
    ``arrays``, by their byte bounds (two strided views that interleave count as
    overlapping, which only costs a slower run).  Distinct arrays that own their memory
    answer at once; others in one sort of their spans (parameters made views of one
    vector by ``vector_to_parameters`` are hundreds of inputs)."""
    if not written:
        return False
    arrays = [a if type(a) is np.ndarray else np.asarray(a) for a in arrays]
    if all(a.flags.owndata for a in arrays) and len(set(map(id, arrays))) == len(arrays):
        return False
    writes = set(written)
    spans = sorted((*byte_span(a), k in writes) for k, a in enumerate(arrays) if a.nbytes)
    end_any = end_written = None  # the furthest end of the spans before, of all, of written ones
    for start, end, is_written in spans:
        if (is_written and end_any is not None and start < end_any) or (
            end_written is not None and start < end_written
        ):
            return True
        end_any = end if end_any is None else max(end_any, end)
        if is_written:
            end_written = end if end_written is None else max(end_written, end)
    return False
