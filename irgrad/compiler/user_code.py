"""What counts as the user's code, and what names and attributes a code object reads.

The state walk (:mod:`.state`) follows the user's functions, classes and modules into
the state they hold, and takes irgrad's, the standard library's and installed packages'
to be as constant as their code (walking them would guard a logger's or a cache's every
write).  Which of a function's globals and which of a module's attributes it follows is
what the function's code may read: :func:`code_names` and :func:`attributes_read` answer
from the bytecode, so a global the code never names is neither walked nor guarded.
"""

from __future__ import annotations

import dis
import functools
import os
import sys
import sysconfig
import types
from typing import Any

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_LIBRARY_DIRS = tuple(
    os.path.abspath(p) + os.sep
    for p in {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
)


@functools.lru_cache(maxsize=4096)
def is_user_file(filename: str) -> bool:
    """Whether code from ``filename`` is the user's (not irgrad's, the stdlib's or a package's)."""
    path = os.path.abspath(filename)
    return not (path.startswith(_PACKAGE_DIR) or path.startswith(_LIBRARY_DIRS))


def is_user_class(cls: type) -> bool:
    module = sys.modules.get(getattr(cls, "__module__", "") or "")
    filename = getattr(module, "__file__", None)
    if filename is None:
        return module is not None and module.__name__ == "__main__"
    return is_user_file(filename)


def is_user_module(obj: Any) -> bool:
    # (not getattr: a module's __getattr__ may import, or raise)
    filename = vars(obj).get("__file__") if isinstance(obj, types.ModuleType) else None
    return filename is not None and is_user_file(filename)


@functools.lru_cache(maxsize=1024)
def attributes_read(code: types.CodeType) -> dict[str, set[str]]:
    """Per global or free variable of ``code`` (and of the code nested in it), the
    attributes read straight off it (``os.environ``: {"os": {"environ"}})."""
    found: dict[str, set[str]] = {}
    previous = None
    for instruction in dis.get_instructions(code):
        if instruction.opname in ("LOAD_ATTR", "LOAD_METHOD") and previous is not None:
            found.setdefault(previous, set()).add(instruction.argval)
        if instruction.opname in ("EXTENDED_ARG", "CACHE", "NOP"):
            continue  # (the argument of the next instruction; no reads of their own)
        loads_variable = instruction.opname in ("LOAD_GLOBAL", "LOAD_DEREF", "LOAD_NAME")
        previous = instruction.argval if loads_variable else None
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            for name, attributes in attributes_read(const).items():
                found.setdefault(name, set()).update(attributes)
    return found


def code_names(code: types.CodeType) -> set[str]:
    """The global names ``code`` and the code objects nested in it may read."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= code_names(const)
    return names
