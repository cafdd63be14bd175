"""Graph-to-graph passes over the IR, one pass a module; each is a pure ``Graph -> Graph``.

Importing a pass by name (``from irgrad.passes import fold``) gives the pass function.
One line a pass (``from .x import x as x`` re-exports it).
"""

from .autodiff import autodiff as autodiff
from .cse import cse as cse
from .dce import dce as dce
from .fold import fold as fold
from .fusion import fuse as fuse
from .memory import MemoryPlan as MemoryPlan
from .memory import plan_memory as plan_memory
from .partition import partition as partition
from .roll_scans import roll_scans as roll_scans
from .simplify import simplify as simplify
