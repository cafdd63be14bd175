"""Passes over fx graphs (``irgrad.fx.passes.shape_prop``), as torch.fx.passes."""
