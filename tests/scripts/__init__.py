"""Well-known public PyTorch training scripts in miniature, run through irgrad.

Each module is one script kind, written once against a ``torch``-like namespace ``lib``
and run with ``lib = torch`` and ``lib = irgrad`` from the same weights on the same
synthetic batches (losses and final parameters compared), then with irgrad compiled
(the model, and the whole training step) against irgrad eager.
"""
