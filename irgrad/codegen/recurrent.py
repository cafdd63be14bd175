"""Native recurrent code: which lowering each recurrent op gets.

``lstm_cell`` (one LSTM step) and the scans of whole layers, ``lstm_scan``, ``gru_scan``,
``rnn_scan`` and their gradients, are each a loop in the program: over a cell's rows and
units, and for a scan over its time steps, each step a tiled product and a cell kernel.
So the program holds each kernel once whatever the sequence's length, and LLVM compiles
the layer once.  The LSTM's lowerings are in :mod:`.lstm_scan`, the GRU's in
:mod:`.gru_scan`, the RNN's in :mod:`.rnn_scan`, and what they share (row kernels, the
loop over the steps) in :mod:`.recurrent_scan`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..ir.graph import Node
from .emission import Lowering
from .gru_scan import GruScanBackwardLowering, GruScanLowering
from .lstm_scan import LstmCellLowering, LstmScanBackwardLowering, LstmScanLowering
from .rnn_scan import RnnScanBackwardLowering, RnnScanLowering


def _for(lowering: type[Lowering], dtypes: str) -> Callable[[Node, list], Lowering | str]:
    """The lowering factory for ``lowering``, for results of these numpy dtype characters
    (the scans' products are the tiled loops', which are float32 and float64 only)."""

    def make(node: Node, arg_types: list) -> Lowering | str:
        dtype = np.dtype(node.type.dtype.np)
        return lowering(node) if dtype.char in dtypes else f"{node.op} of {dtype}"

    return make


RECURRENT_LOWERINGS = {
    "lstm_cell": _for(LstmCellLowering, np.typecodes["Float"]),
    "lstm_scan": _for(LstmScanLowering, "fd"),
    "lstm_scan_backward": _for(LstmScanBackwardLowering, "fd"),
    "gru_scan": _for(GruScanLowering, "fd"),
    "gru_scan_backward": _for(GruScanBackwardLowering, "fd"),
    "rnn_scan": _for(RnnScanLowering, "fd"),
    "rnn_scan_backward": _for(RnnScanBackwardLowering, "fd"),
}
