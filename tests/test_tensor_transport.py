"""Tensors between processes (irgrad/utils/data/transport.py): how DataLoader workers send batches."""

import multiprocessing
import pickle

import pytest

import irgrad
from irgrad.utils.data.transport import dumps, loads


def test_tensors_travel_between_processes_as_their_class():
    p = irgrad.nn.Parameter(irgrad.ones(3))
    b = irgrad.nn.Buffer(irgrad.zeros(2, dtype=irgrad.int32), persistent=False)
    view = irgrad.arange(6.0).reshape(2, 3)[:, 1]
    back = loads(dumps({"p": p, "b": b, "view": view}))
    assert type(back["p"]) is irgrad.nn.Parameter and back["p"].requires_grad
    assert type(back["b"]) is irgrad.nn.Buffer and back["b"].persistent is False
    assert back["b"].dtype == irgrad.int32 and back["view"].tolist() == [1.0, 4.0]


def test_non_leaf_tensors_that_require_grad_are_refused_as_torch():
    y = irgrad.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="Cowardly refusing to serialize non-leaf tensor"):
        dumps(y)
    assert loads(dumps(y.detach())).tolist() == [2.0, 2.0]
    with pytest.raises(TypeError, match="not picklable"):  # plain pickle still refuses tensors
        pickle.dumps(y.detach())


class Tagged(irgrad.Tensor):
    """A user's Tensor subclass (not registered with the pickler: it still travels)."""


def test_tensor_subclasses_travel_with_their_attributes():
    t = Tagged._wrap(irgrad.ones(2)._data)
    t.tag = "mine"
    back = loads(dumps(t))
    assert type(back) is Tagged and back.tag == "mine" and back.tolist() == [1.0, 1.0]


def test_a_multiprocessing_queue_carries_tensors():
    q = multiprocessing.get_context().Queue()
    q.put(irgrad.arange(3))
    assert q.get(timeout=60).tolist() == [0, 1, 2]
    q.close()
    q.join_thread()
