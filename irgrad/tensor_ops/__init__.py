"""Public tensor operations, each shared by ``irgrad.<name>`` and ``Tensor.<name>``."""
