"""Checks that keep docs/ true to the code (no PyTorch needed; runs in a few seconds).

* every primitive in ``irgrad.ops.OPS`` has a row in the op table of ``docs/ir.md``,
  the table lists no op that does not exist, and each row's kind, arity, attributes,
  dtype rule and gradient columns equal what the registry says (``python
  tests/test_docs.py`` prints those columns, to paste when adding an op);
* the ``python`` code blocks of each page in :data:`RUNNABLE` (the tutorial, the IR
  reference, the passes, the PyTorch differences, contributing), joined in order into
  one script named after the page (``docs/tutorial.md`` runs as ``tutorial.py``, the
  file its IR source comments name), run without error in a temporary directory;
* every relative link in ``docs/README.md`` (and in the pages it indexes) resolves to
  an existing file.
"""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from irgrad.ops import OPS, OpDef

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
_LINK = re.compile(r"\]\(([^)#\s]*)(?:#([^)\s]*))?\)")


# --- the op table of docs/ir.md ---------------------------------------------------------


def op_attributes(op: OpDef) -> list[str]:
    """The attribute names an op takes: keyword-only parameters of its shape rule and of its
    kernel (numpy ufunc kernels take none of theirs as IR attributes)."""
    names: list[str] = []
    kernel = inspect.unwrap(op.eval)  # (as registered: see ops.registry.register)
    fns = [op.infer] + ([] if isinstance(kernel, np.ufunc) else [kernel])
    for fn in fns:
        for p in inspect.signature(fn).parameters.values():
            if p.kind is p.KEYWORD_ONLY and not p.name.startswith("_") and p.name not in names:
                names.append(p.name)
    return names


def registry_columns(op: OpDef) -> list[str]:
    """The generated cells of the op's row: op, kind, arity, attributes, dtype rule, gradient."""
    arity = "variadic" if op.arity == -1 else str(op.arity)
    attrs = ", ".join(f"`{a}`" for a in op_attributes(op)) or "-"
    grad = (
        "-"
        if op.vjp is None
        else "yes"
        + " (saves "
        + (
            "inputs and output"
            if op.save_inputs and op.save_output
            else "inputs"
            if op.save_inputs
            else "output"
            if op.save_output
            else "nothing"
        )
        + ")"
    )
    return [f"`{op.name}`", op.kind.value, arity, attrs, op.dtype_rule.value, grad]


def documented_rows() -> dict[str, list[str]]:
    """Op name -> the cells of its row in docs/ir.md's op table."""
    text = (DOCS / "ir.md").read_text(encoding="utf-8")
    section = text.split("\n## Every primitive", 1)[-1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        m = re.match(r"^\| `(\w+)` \|", line)
        if m:
            rows[m.group(1)] = [c.strip() for c in line.strip().strip("|").split(" | ")]
    return rows


def test_every_op_is_in_the_ir_reference():
    rows = documented_rows()
    missing = sorted(set(OPS) - set(rows))
    assert not missing, f"ops missing from the table in docs/ir.md: {missing}; run python tests/test_docs.py"
    stale = sorted(set(rows) - set(OPS))
    assert not stale, f"docs/ir.md documents ops that do not exist: {stale}"


@pytest.mark.parametrize("name", sorted(OPS))
def test_op_row_matches_the_registry(name):
    row = documented_rows().get(name)
    if row is None:
        pytest.skip("reported by test_every_op_is_in_the_ir_reference")
    expected = registry_columns(OPS[name])
    assert row[: len(expected)] == expected, f"docs/ir.md row of {name} is out of date"
    assert len(row) == len(expected) + 1 and row[-1], f"docs/ir.md row of {name} needs a shape rule"


# --- runnable pages ------------------------------------------------------------------------

RUNNABLE = ["tutorial.md", "ir.md", "passes.md", "pytorch-differences.md", "contributing.md"]


def page_script(page: str) -> str:
    """The page's ``python`` blocks joined in order: the script its IR comments refer to."""
    return "\n".join(_BLOCK.findall((DOCS / page).read_text(encoding="utf-8")))


@pytest.mark.parametrize("page", RUNNABLE)
def test_page_code_runs(page, tmp_path):
    script = page_script(page)
    assert script.strip(), f"docs/{page} has no python blocks"
    name = page.removesuffix(".md") + ".py"  # tutorial.md runs as tutorial.py, as its IR comments say
    (tmp_path / name).write_text(script, encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("IRGRAD_DUMP", None)
    done = subprocess.run(
        [sys.executable, name], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"docs/{page}:\n{done.stderr[-3000:]}"


# --- links ----------------------------------------------------------------------------------


def _links(page: Path) -> list[tuple[str, str]]:
    """(file, anchor) of every relative link on ``page`` outside code blocks."""
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    return [(t, a) for t, a in _LINK.findall(text) if "://" not in t and not t.startswith("mailto:")]


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(
        r"^#+ (.+)$", re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S), re.M
    )
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_docs_links_resolve():
    index = DOCS / "README.md"
    pages = [index] + [(DOCS / t).resolve() for t, _ in _links(index) if t.endswith(".md")]
    broken = []
    for page in pages:
        if not page.exists():
            broken.append(str(page))
            continue
        for target, anchor in _links(page):
            path = (page.parent / target) if target else page
            if not path.exists():
                broken.append(f"{page.name}: {target}")
            elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
                broken.append(f"{page.name}: {target}#{anchor}")
    assert not broken, f"broken links: {broken}"


if __name__ == "__main__":
    print("| op | kind | arity | attributes | dtype rule | gradient | shape rule |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for op in OPS.values():
        print("| " + " | ".join(registry_columns(op)) + " |  |")
