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


def writes_overlap(arrays: Sequence, written: Sequence[int]) -> bool:
    """Whether an array at a position in ``written`` shares memory with another of
    ``arrays`` (by their byte bounds: two strided views that interleave count as
    overlapping, which only costs a slower run)."""
    if not written:
        return False
    arrays = [a if type(a) is np.ndarray else np.asarray(a) for a in arrays]
    if all(a.flags.owndata for a in arrays) and len(set(map(id, arrays))) == len(arrays):
        return False
    for k in written:
        for j, other in enumerate(arrays):
            if j != k and np.may_share_memory(arrays[k], other):
                return True
    return False
