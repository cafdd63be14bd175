"""A differential fuzzer for ``irgrad.compile``: ``python -m irgrad.testing.fuzz --n N --seed S``.

Random straight-line programs over irgrad's public API (and stateful programs: free
tensors, globals, train steps) are run eagerly and compiled, in several modes
(inference, training, new values, another batch size, dynamic shapes), on every
compile backend that exists, and compared output by output and gradient by gradient.
A failure is shrunk to a minimal program and written out as a pytest regression test.

Modules: ``program`` (the program representation and its source), ``context`` and
``generate`` (generation, every statement checked as it is written), ``catalog`` and
``ops_*`` (the op generators), ``stateful`` (programs with state), ``runner`` (modes,
cases, running one), ``shrink``, ``regression`` (test writer), ``oracle`` (PyTorch as
a third opinion), ``report`` and ``cli``.
"""
