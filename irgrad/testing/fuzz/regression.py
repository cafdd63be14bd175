"""Write a (shrunk) failing case as a ready-to-paste pytest regression test.

The test holds the program as source, every call's arrays as literals, and one
call of :func:`irgrad.testing.check_compiled` (or ``check_stateful``) with the
case's settings, so it fails exactly as the fuzzer's run did until the defect is
fixed, and then guards against its return.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np

from .runner import Case, Outcome

PREAMBLE = """import numpy as np
from numpy import inf, nan

import irgrad as torch
import irgrad.nn as nn
import irgrad.nn.functional as F
from irgrad.testing import {checker}
"""


def array_literal(a: np.ndarray) -> str:
    """Python text that rebuilds ``a`` exactly (dtype, shape and every bit of every value)."""
    a = np.asarray(a)
    dtype = f"np.{a.dtype.name}" if a.dtype != bool else "bool"
    if a.size == 0:
        return f"np.zeros({tuple(a.shape)}, dtype={dtype})"
    return f"np.array({_nested(a)}, dtype={dtype})"


def _nested(a: np.ndarray) -> str:
    if a.ndim == 0:
        return _scalar(a[()])
    return "[" + ", ".join(_nested(x) for x in a) + "]"


def _scalar(x) -> str:
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, np.integer):
        return str(int(x))
    # numpy prints the shortest text that reads back to the same float of its dtype
    # ("nan", "inf" and "-inf" read back through the test's ``from numpy import inf, nan``)
    return str(x)


def regression_name(case: Case, outcome: Outcome) -> str:
    """A test name (and file name) saying where the case came from and what fails."""
    parts = [case.origin, case.mode] + ([case.backend] if case.mode != "eager" else []) + [outcome.category()]
    return "test_fuzz_" + re.sub(r"\W+", "_", " ".join(parts)).strip("_").lower()


def regression_test(case: Case, outcome: Outcome, explanation: str = "") -> str:
    """The text of a pytest module reproducing ``case``."""
    name = regression_name(case, outcome)
    doc = f'"""Found by ``python -m irgrad.testing.fuzz`` ({case.origin}; mode {case.mode}, backend {case.backend}).\n\n'
    doc += _wrap(outcome.message) + "\n"
    if explanation:
        doc += "\n" + explanation.rstrip() + "\n"
    doc += '"""\n\n'
    if hasattr(case.program, "regression_body"):
        return (
            doc
            + PREAMBLE.format(checker="check_stateful")
            + "\n\n"
            + case.program.regression_body(case, name)
        )
    program = case.program
    params = [i.name for i in program.params()]
    if case.mode == "eager":  # an eager crash: the program must run, as it does in PyTorch
        arrays = ", ".join(array_literal(case.calls[0][p]) for p in params)
        return (
            f"{doc}{PREAMBLE.format(checker='arguments')}\n\n{program.function_source()}\n\n"
            f"def {name}():\n"
            f"    args = arguments([{arrays}], requires_grad={case.train})\n"
            f"    with torch.set_grad_enabled({case.train}):\n"
            f"        f(*args)  # PyTorch runs this program\n"
        )
    lines = [doc + PREAMBLE.format(checker="check_compiled"), "", program.function_source(), ""]
    distinct: list[str] = []
    for call in case.calls:
        text = "[" + ", ".join(array_literal(call[p]) for p in params) + "]"
        if text not in distinct:
            distinct.append(text)
    for k, text in enumerate(distinct):
        lines.append(f"CALL_{k} = {text}")
    order = []
    for call in case.calls:
        text = "[" + ", ".join(array_literal(call[p]) for p in params) + "]"
        order.append(f"CALL_{distinct.index(text)}")
    lines.append(f"CALLS = [{', '.join(order)}]")
    lines.append("")
    lines.append("")
    options = [f'backend="{case.backend}"', f"train={case.train}"]
    if case.dynamic:
        options.append("dynamic=True")
    if case.mark:
        options.append(f"mark_dynamic={[params.index(m) for m in case.mark]}")
    options.append(f"seed={case.seed}")
    lines.append(f"def {name}():")
    lines.append(f"    check_compiled(f, CALLS, {', '.join(options)})")
    return "\n".join(lines) + "\n"


def _wrap(text: str, width: int = 100) -> str:
    words = text.replace('"""', "'''").split(" ")
    out, line = [], ""
    for w in words:
        if line and len(line) + len(w) + 1 > width:
            out.append(line)
            line = w
        else:
            line = f"{line} {w}" if line else w
    out.append(line)
    return "\n".join(out)


def write(text: str, directory: str | Path, name: str) -> Path:
    """Write a test module (formatted with ruff when it is installed) and return its path."""
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    target = path / f"{name}.py"
    target.write_text(text)
    try:
        subprocess.run(
            ["ruff", "format", "--quiet", str(target)], check=False, timeout=30, capture_output=True
        )
    except (OSError, subprocess.SubprocessError):
        pass  # formatting is a nicety
    return target
