"""The recording half of autograd: what an op leaves behind as it runs.

Grad modes (:mod:`.grad_mode`), the ``grad_fn`` protocol every backward node follows
(:mod:`.grad_fn`), the nodes built-in ops record (:mod:`.nodes`) and the records that
tie a view to its base (:mod:`.views`).  This package sits between the tensor and
dispatch: it knows ``Tensor`` and the op registry, and nothing that runs ops.  What
runs ops backwards (the engine, custom ``Function``s, view replay) is
:mod:`irgrad.autograd`, above dispatch.
"""
