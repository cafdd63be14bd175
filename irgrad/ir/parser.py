"""Read the IR's text form (see :mod:`.printer`) back into a :class:`Graph`.

Attribute values are parsed by walking Python's AST with a whitelist (literals,
tuples, lists, ``slice(...)``, ``...`` and dtype names): nothing is evaluated.
"""

from __future__ import annotations

import ast
import base64
import re

import numpy as np

from ..dtypes import to_dtype
from .graph import BUFFER, FUSED, PARAM, STATE_ROLE, USER, Graph, TensorType
from .printer import SHORT_DTYPE
from .symbolic import Sym

DTYPE_BY_SHORT = {short: to_dtype(name) for name, short in SHORT_DTYPE.items()}
_HEADER = re.compile(r"^graph\s+(?P<name>[\w.]+)\((?P<params>.*)\)\s*->\s*\((?P<results>.*)\)$")
_NODE = re.compile(
    r"^(?P<name>%[\w.]+)\s*:\s*(?P<type>\w+\[[^\]]*\])\s*=\s*(?P<op>\w+)\((?P<args>.*)\)(?P<brace>\s*\{)?$"
)
_TYPE = re.compile(r"^(?P<dtype>\w+)\[(?P<dims>[^\]]*)\]$")


class IRParseError(ValueError):
    """The text is not valid IR; the message names the line."""


def parse_type(text: str) -> TensorType:
    m = _TYPE.match(text.strip())
    if not m or m["dtype"] not in DTYPE_BY_SHORT:
        raise IRParseError(f"bad type {text!r}")
    dims = tuple(
        int(d) if re.fullmatch(r"-?\d+", d) else d for d in (s.strip() for s in m["dims"].split(",")) if d
    )
    return TensorType(dims, DTYPE_BY_SHORT[m["dtype"]])


def split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside brackets, parentheses or quotes."""
    parts, depth, quote, current = [], 0, None, []
    for ch in text:
        if quote:
            current.append(ch)
            if ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    tail = "".join(current).strip()
    if tail:
        parts.append(tail)
    return parts


def parse_literal(text: str):
    """A Python-literal-like attribute value, without evaluating anything."""
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise IRParseError(f"bad attribute value {text!r}") from exc
    return _literal(tree, text)


def _literal(node, text: str):
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Tuple):
        return tuple(_literal(e, text) for e in node.elts)
    if isinstance(node, ast.List):
        return [_literal(e, text) for e in node.elts]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_literal(node.operand, text)
    if isinstance(node, ast.Name):
        if node.id in DTYPE_BY_SHORT:
            return DTYPE_BY_SHORT[node.id]
        if node.id in ("inf", "nan"):
            return float(node.id)
        return Sym(((node.id, 1),), 0)  # a size symbol
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult)):
        return _affine(node.op, _literal(node.left, text), _literal(node.right, text), text)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "slice"
        and not node.keywords
    ):
        return slice(*(_literal(a, text) for a in node.args))
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "float"
        and len(node.args) == 1
    ):
        return float(_literal(node.args[0], text))
    raise IRParseError(f"unsupported attribute syntax in {text!r}")


def _affine(op, left, right, text: str):
    """Sizes written as affine expressions of symbols (``2*B+1``) in dynamic graphs."""

    def parts(v):
        if isinstance(v, Sym):
            return dict(v.terms), v.const
        if isinstance(v, int) and not isinstance(v, bool):
            return {}, v
        raise IRParseError(f"unsupported size expression in {text!r}")

    (lt, lc), (rt, rc) = parts(left), parts(right)
    if isinstance(op, ast.Mult):
        if lt and rt:
            raise IRParseError(f"size expression is not affine in {text!r}")
        scale, (terms, const) = (rc, (lt, lc)) if lt else (lc, (rt, rc))
        terms = {k: v * scale for k, v in terms.items()}
        const *= scale
    else:
        sign = 1 if isinstance(op, ast.Add) else -1
        terms = dict(lt)
        for k, v in rt.items():
            terms[k] = terms.get(k, 0) + sign * v
        const = lc + sign * rc
    terms = tuple((k, v) for k, v in terms.items() if v)
    return Sym(terms, const) if terms else const


def _constant(args: str, t: TensorType) -> np.ndarray:
    text = args.strip()
    if text.startswith("splat="):
        return np.full(t.shape, parse_literal(text[len("splat=") :]), dtype=t.dtype.np)
    if text.startswith("b64="):
        raw = base64.b64decode(parse_literal(text[len("b64=") :]))
        return np.frombuffer(raw, dtype=t.dtype.np).reshape(t.shape).copy()
    return np.asarray(parse_literal(text), dtype=t.dtype.np).reshape(t.shape)


def parse_graph(text: str) -> Graph:
    """Parse one graph (with nested fused bodies) from its printed form."""
    lines = [ln.rstrip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    graph, rest = _parse(lines, 0)
    if rest != len(lines):
        raise IRParseError(f"unexpected text after the graph: {lines[rest].strip()!r}")
    return graph


def _strip_comment(line: str) -> tuple[str, str | None]:
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            return line[:i].rstrip(), line[i + 1 :].strip()
    return line, None


def _parse(lines: list[str], i: int) -> tuple[Graph, int]:
    m = _HEADER.match(lines[i].strip())
    if not m:
        raise IRParseError(f"line {i + 1}: expected 'graph NAME(...) -> (...)', got {lines[i].strip()!r}")
    graph = Graph(m["name"])
    env: dict[str, int] = {}
    for param in split_top_level(m["params"]):
        role = USER
        for prefix in (PARAM, BUFFER, STATE_ROLE):
            if param.startswith(prefix + " "):
                role, param = prefix, param[len(prefix) + 1 :]
        name, _, type_text = param.partition(":")
        name = name.strip()
        if not name.startswith("%"):
            raise IRParseError(f"line {i + 1}: input names start with '%', got {name!r}")
        env[name] = graph.add_input(name[1:], parse_type(type_text), role)
    i += 1
    while i < len(lines):
        line, source = _strip_comment(lines[i].strip())
        if line.startswith("return"):
            outs = [o.strip() for o in line[len("return") :].split(",") if o.strip()]
            graph.set_outputs([_ref(env, o, i) for o in outs])
            return graph, i + 1
        nm = _NODE.match(line)
        if not nm:
            raise IRParseError(f"line {i + 1}: cannot parse {line!r}")
        t = parse_type(nm["type"])
        if nm["op"] == "constant":
            env[nm["name"]] = graph.add_constant(_constant(nm["args"], t), t)
            i += 1
            continue
        args, attrs = [], {}
        for part in split_top_level(nm["args"]):
            if part.startswith("%"):
                args.append(_ref(env, part, i))
            else:
                key, eq, value = part.partition("=")
                if not eq:
                    raise IRParseError(f"line {i + 1}: expected '%value' or 'key=value', got {part!r}")
                attrs[key.strip()] = parse_literal(value)
        body = None
        i += 1
        if nm["brace"]:
            if nm["op"] != FUSED:
                raise IRParseError(f"line {i}: only fused nodes have a body")
            body, i = _parse(lines, i)
            if i >= len(lines) or lines[i].strip() != "}":
                raise IRParseError(f"line {i + 1}: expected '}}' closing the body of {nm['name']}")
            i += 1
        env[nm["name"]] = graph.add_op(nm["op"], args, attrs, t, source=source, body=body)
    raise IRParseError("graph has no 'return' line")


def _ref(env: dict, name: str, i: int) -> int:
    if name not in env:
        raise IRParseError(f"line {i + 1}: {name} is used before it is defined")
    return env[name]


__all__ = ["IRParseError", "parse_graph", "parse_type"]
