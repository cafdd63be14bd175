"""``irgrad.utils.tensorboard``: ``SummaryWriter``, as ``torch.utils.tensorboard``,
writing TensorBoard event files with no dependency beyond numpy.

The package's modules, from the bottom up: ``protobuf`` (the wire format, encoding
only), ``messages`` (TensorBoard's messages), ``records`` (CRC-32C, TFRecord framing,
the event file), ``png`` (PNG encoding), ``summaries`` and ``images`` (what each
``add_*`` writes, by PyTorch's rules), ``writer`` (``SummaryWriter``).
"""

from .writer import FileWriter, SummaryWriter

__all__ = ["FileWriter", "SummaryWriter"]
