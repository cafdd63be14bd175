"""The memory planner: reuse and in-place decisions on hand-made graphs, plan invariants
on random graphs, and a numpy executor that runs a graph inside its planned buffers."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from ir_random import graphs, random_inputs

from irgrad.ir import CONSTANT, FUSED, INPUT, interpret, parse_graph, verify
from irgrad.ops import OPS
from irgrad.passes import fuse, plan_memory
from irgrad.passes.memory import MemoryPlan, nbytes


def ir(text: str):
    return verify(parse_graph(textwrap.dedent(text)))


def planned(text: str):
    """The planned graph, its plan, and the node ids by printed name (``"%3"``)."""
    g = plan_memory(ir(text))
    names, counter = {}, 0
    for nid in g.order():
        node = g.node(nid)
        if node.op == INPUT:
            names[f"%{node.name}"] = nid
        else:
            names[f"%{counter}"] = nid
            counter += 1
    return g, g.memory_plan, names


# --- the executor ----------------------------------------------------------------------


def run_in_buffers(g, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Run ``g`` with every planned value stored in its assigned buffer.

    Each op's result is copied into its buffer (an in-place op thus overwrites its
    argument), views are taken of the buffered arrays (so they really alias them), and a
    buffer is filled with 0xFF bytes (NaN for floats) as soon as the plan says its
    contents are dead: reading a value after its buffer was freed or reused gives
    garbage, not the right answer.
    """
    plan: MemoryPlan = g.memory_plan
    arena = [np.empty(size, dtype=np.uint8) for size in plan.buffer_sizes]
    env = dict(zip(g.inputs, inputs))
    dies_at: dict[int, list[int]] = {}
    overwritten = set(plan.in_place.values())
    for owner, (_, last) in plan.live.items():
        if owner not in overwritten:
            dies_at.setdefault(last, []).append(owner)
    for step, nid in enumerate(plan.order):
        node = g.node(nid)
        if node.op == CONSTANT:
            env[nid] = node.value
        elif node.op != INPUT:
            args = [env[a] for a in g.args(nid)]
            if node.op == FUSED:
                result = interpret(node.body, args)[0]
            else:
                result = np.asarray(OPS[node.op].eval(*args, **node.attrs))
            if nid in plan.views:
                viewed = g.args(nid)[0]
                # reshape may copy, and numpy copies x[i] of a 1-d x: the plan treats
                # every view as an alias anyway, which is only ever conservative
                if viewed in plan.live and node.op != "reshape" and result.ndim and result.size:
                    assert np.shares_memory(result, arena[plan.buffer_of[nid]])
                env[nid] = result
            else:
                t = node.type
                raw = arena[plan.buffer_of[nid]][: nbytes(t)]
                buf = raw.view(t.dtype.np).reshape(t.shape)
                np.copyto(buf, result)
                env[nid] = buf
        for owner in dies_at.get(step, []):
            arena[plan.buffer_of[owner]].fill(0xFF)
    return [np.array(env[o]) for o in g.outputs]


def check_executor(g, seed: int = 0) -> None:
    p = plan_memory(g)
    xs = random_inputs(g, seed)
    with np.errstate(all="ignore"):  # random graphs may overflow to inf: the same inf both ways
        want = interpret(g, xs)
        got = run_in_buffers(p, xs)
    for w, r in zip(want, got):
        assert w.dtype == r.dtype and w.shape == r.shape
        if w.dtype.kind == "f":  # reductions over a contiguous copy may round differently
            np.testing.assert_allclose(r, w, rtol=1e-5, atol=1e-6)
        else:
            np.testing.assert_array_equal(r, w)


# --- invariants ------------------------------------------------------------------------


def check_invariants(g) -> None:
    plan: MemoryPlan = g.memory_plan
    step = {nid: s for s, nid in enumerate(plan.order)}
    assert plan.order == tuple(g.order())
    for nid in plan.order:
        node = g.node(nid)
        if node.op in (INPUT, CONSTANT):
            assert nid not in plan.buffer_of and nid not in plan.live
    owners = sorted(plan.live, key=step.__getitem__)
    for nid in owners:
        assert plan.buffer_sizes[plan.buffer_of[nid]] >= nbytes(g.node(nid).type)
        first, last = plan.live[nid]
        assert first == step[nid] and last >= first
        assert all(step[u] <= last for u in g.users(nid))
        if nid in g.outputs:
            assert last == len(plan.order)
    for view, root in plan.views.items():
        assert g.node(root).op in (INPUT, CONSTANT) or root in plan.live
        assert plan.buffer_of.get(view) == plan.buffer_of.get(root)
        if root in plan.live:
            assert all(step[u] <= plan.live[root][1] for u in g.users(view))
            if view in g.outputs:
                assert plan.live[root][1] == len(plan.order)
    for i, u in enumerate(owners):
        for v in owners[i + 1 :]:
            if plan.buffer_of[u] != plan.buffer_of[v]:
                continue
            (fu, lu), (fv, lv) = plan.live[u], plan.live[v]
            overlap = not (lu < fv or lv < fu)
            assert not overlap or (plan.in_place.get(v) == u and lu == fv), (u, v, plan.describe())
    for v, a in plan.in_place.items():
        assert g.node(v).type == g.node(a).type and a in plan.live and a not in plan.views
        assert plan.live[a][1] == step[v]
    assert plan.peak_bytes <= plan.arena_bytes <= plan.total_bytes
    assert plan.arena_bytes == sum(plan.buffer_sizes)
    assert plan.total_bytes == sum(nbytes(g.node(n).type) for n in owners)


# --- hand-made graphs ------------------------------------------------------------------


def test_a_chain_runs_in_place_in_one_buffer():
    g, plan, n = planned("""
        graph f(%x: f32[4,3]) -> (f32[4,3])
          %0: f32[4,3] = exp(%x)
          %1: f32[4,3] = neg(%0)
          %2: f32[4,3] = sin(%1)
          return %2
    """)
    assert plan.buffer_sizes == (48,)
    assert dict(plan.in_place) == {n["%1"]: n["%0"], n["%2"]: n["%1"]}
    assert "%x" not in plan.buffer_of  # the caller's input is never written
    assert (plan.peak_bytes, plan.arena_bytes, plan.total_bytes) == (48, 48, 144)
    check_invariants(g)
    check_executor(g)


def test_no_in_place_while_the_argument_is_still_needed():
    g, plan, n = planned("""
        graph f(%x: f32[4]) -> (f32[4])
          %0: f32[4] = exp(%x)
          %1: f32[4] = neg(%0)
          %2: f32[4] = add(%0, %1)
          return %2
    """)
    assert n["%1"] not in plan.in_place  # %0 is read again by %2
    assert plan.buffer_of[n["%1"]] != plan.buffer_of[n["%0"]]
    assert plan.in_place[n["%2"]] == n["%0"]  # both die at %2: the first one is overwritten
    check_invariants(g)
    check_executor(g)


def test_no_in_place_on_inputs_constants_or_other_types():
    g, plan, n = planned("""
        graph f(%x: f32[4,1], %y: f32[4,3]) -> (f32[4,3], f64[4,1], bool[4,1], f32[])
          %0: f32[4,1] = neg(%x)
          %1: f32[] = constant(2.0)
          %2: f32[] = mul(%1, %1)
          %3: f32[4,3] = add(%0, %y)
          %4: f32[4,1] = exp(%x)
          %5: f64[4,1] = cast(%4, dtype=f64)
          %6: f32[4,1] = sin(%x)
          %7: bool[4,1] = gt(%6, %x)
          return %3, %5, %7, %2
    """)
    assert plan.in_place == {}  # inputs, constants, a broadcast result, dtype changes
    assert plan.buffer_of[n["%5"]] != plan.buffer_of[n["%4"]]
    assert n["%1"] not in plan.buffer_of
    check_invariants(g)
    check_executor(g)


def test_views_alias_their_owner_and_keep_it_alive():
    g, plan, n = planned("""
        graph f(%x: f32[4,3]) -> (f32[3,4])
          %0: f32[4,3] = exp(%x)
          %1: f32[12] = reshape(%0, shape=(12,))
          %2: f32[4,3] = neg(%0)
          %3: f32[12] = sin(%1)
          %4: f32[3,4] = reshape(%3, shape=(3, 4))
          %5: f32[4,3] = permute(%4, dims=(1, 0))
          %6: f32[4,3] = add(%2, %5)
          %7: f32[3,4] = permute(%6, dims=(1, 0))
          return %7
    """)
    assert plan.views[n["%1"]] == n["%0"] and plan.buffer_of[n["%1"]] == plan.buffer_of[n["%0"]]
    assert plan.views[n["%5"]] == n["%3"]  # through a chain of views
    assert plan.live[n["%0"]] == (1, 4)  # the reshape is read by %3 at step 4
    assert n["%2"] not in plan.in_place  # %0 lives on through %1
    assert n["%3"] not in plan.in_place  # its argument is a view
    assert n["%6"] in plan.in_place and plan.in_place[n["%6"]] == n["%2"]  # %5 views another buffer
    assert plan.views[n["%7"]] == n["%6"] and plan.live[n["%6"]][1] == len(plan.order)
    check_invariants(g)
    check_executor(g)


def test_no_in_place_when_another_argument_views_the_same_buffer():
    g, plan, n = planned("""
        graph f(%x: f32[3,3]) -> (f32[3,3])
          %0: f32[3,3] = exp(%x)
          %1: f32[3,3] = permute(%0, dims=(1, 0))
          %2: f32[3,3] = add(%0, %1)
          return %2
    """)
    assert n["%2"] not in plan.in_place
    check_invariants(g)
    check_executor(g)


def test_views_of_inputs_are_not_planned():
    g, plan, n = planned("""
        graph f(%x: f32[4,3]) -> (f32[12], f32[12])
          %0: f32[12] = reshape(%x, shape=(12,))
          %1: f32[12] = neg(%0)
          return %1, %0
    """)
    assert plan.views[n["%0"]] == n["%x"] and n["%0"] not in plan.buffer_of
    assert n["%1"] not in plan.in_place
    check_invariants(g)
    check_executor(g)


def test_freed_buffers_are_reused_best_fit():
    g, plan, n = planned("""
        graph f(%x: f32[4,3], %y: f32[2]) -> (f32[3], f32[2])
          %0: f32[4,3] = exp(%x)
          %1: f32[3] = sum(%0, dims=(0,), keepdim=False)
          %2: f32[2] = exp(%y)
          %3: f32[] = amax(%2, dims=(0,), keepdim=False)
          %4: f32[2] = mul(%2, %3)
          return %1, %4
    """)
    # %0 (48 B) dies at %1; %2 (8 B) then takes the smallest free buffer that fits: %0's.
    assert plan.buffer_of[n["%2"]] == plan.buffer_of[n["%0"]]
    assert plan.buffer_of[n["%1"]] != plan.buffer_of[n["%0"]]
    assert plan.in_place == {n["%4"]: n["%2"]}
    assert plan.buffer_sizes == (48, 12, 4)
    check_invariants(g)
    check_executor(g)


def test_outputs_are_never_reused():
    g, plan, n = planned("""
        graph f(%x: f32[4]) -> (f32[4], f32[4])
          %0: f32[4] = exp(%x)
          %1: f32[4] = neg(%0)
          %2: f32[4] = sin(%1)
          %3: f32[4] = tanh(%2)
          return %0, %3
    """)
    assert plan.live[n["%0"]] == (1, 5)
    assert len({plan.buffer_of[n["%0"]], plan.buffer_of[n["%1"]]}) == 2
    assert plan.in_place == {n["%2"]: n["%1"], n["%3"]: n["%2"]}
    check_invariants(g)
    check_executor(g)


def test_fused_nodes_run_in_place_only_along_elementwise_arguments():
    g = ir("""
        graph f(%x: f32[4,4], %y: f32[4,4]) -> (f32[4,4])
          %0: f32[4,4] = copy(%x)
          %1: f32[4,4] = tanh(%0)
          %2: f32[4,4] = mul(%1, %1)
          %3: f32[4,4] = matmul(%2, %y)
          %4: f32[4,4] = relu(%3)
          return %4
    """)
    f = fuse(g)
    p = plan_memory(f)
    plan = p.memory_plan
    copied, pointwise, epilogue = [nid for nid in p.order() if p.node(nid).is_op]
    assert p.node(pointwise).op == FUSED and p.node(epilogue).op == FUSED
    assert plan.in_place == {pointwise: copied}  # the matmul group reads rows and columns
    check_invariants(p)
    check_executor(f)


def test_plan_is_a_copy_and_describes_itself():
    g = ir("""
        graph f(%x: f32[4]) -> (f32[4])
          %0: f32[4] = exp(%x)
          %1: f32[4] = reshape(%0, shape=(4,))
          %2: f32[4] = neg(%1)
          return %2
    """)
    p = plan_memory(g)
    assert not hasattr(g, "memory_plan") and str(p) == str(g)
    text = p.memory_plan.describe()
    assert text.splitlines()[0] == "memory plan: 2 buffers, arena 32 B, peak live 32 B, 32 B without reuse"
    assert "%1 = reshape: f32[4]  b0, view of %0" in text
    assert "%x = input: f32[4]" in text and "not planned" in text
    with pytest.raises(AttributeError):
        p.memory_plan.peak_bytes = 0


def test_symbolic_shapes_cannot_be_planned():
    g = ir("""
        graph f(%x: f32[B,4]) -> (f32[B,4])
          %0: f32[B,4] = exp(%x)
          return %0
    """)
    with pytest.raises(ValueError, match="symbolic"):
        plan_memory(g)


# --- random graphs ---------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(graphs())
def test_random_plans_keep_invariants_and_values(g):
    check_invariants(plan_memory(g))
    check_executor(g)


@settings(max_examples=40, deadline=None)
@given(graphs())
def test_random_fused_plans_keep_invariants_and_values(g):
    f = fuse(g)
    check_invariants(plan_memory(f))
    check_executor(f)
