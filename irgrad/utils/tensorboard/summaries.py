"""The ``Summary`` messages of ``SummaryWriter``'s ``add_*`` methods, built from
irgrad tensors, numpy arrays and Python numbers with the rules of PyTorch's
``torch/utils/tensorboard/summary.py``: which values are accepted, how histograms are
binned and trimmed, the tags and plugin data TensorBoard's plugins look for.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ...tensor import Tensor
from . import messages as M

if TYPE_CHECKING:
    from numpy.typing import ArrayLike


def make_np(x: Any) -> np.ndarray:
    """``x`` as a numpy array: an array as it is, a number as a 1-element array, a
    tensor detached; anything else raises, as PyTorch's ``make_np``."""
    if isinstance(x, np.ndarray):
        return x
    if np.isscalar(x):
        return np.array([x])
    if isinstance(x, Tensor):
        return x.detach().numpy()
    raise NotImplementedError(f"Got {type(x)}, but numpy array or torch tensor are expected.")


def scalar(tag: str, value: Any, new_style: bool = False, double_precision: bool = False) -> bytes:
    """One number: a float32 ``simple_value``, or (``new_style``) a 1-element float32
    (``double_precision``: float64) tensor for the scalars plugin."""
    array = make_np(value).squeeze()
    if array.ndim != 0:
        raise AssertionError(
            f"Tensor should contain one element (0 dimensions). Was given size: {array.size} and "
            f"{array.ndim} dimensions."
        )
    number = float(array)
    if not new_style:
        return M.summary(M.summary_value(tag, simple_value=number))
    if double_precision:
        tensor = M.tensor(M.DT_DOUBLE, double_val=[number])
    else:
        tensor = M.tensor(M.DT_FLOAT, float_val=[number])
    return M.summary(M.summary_value(tag, tensor=tensor, metadata=M.plugin_metadata("scalars")))


def _tensorflow_bins() -> np.ndarray:
    """TensorBoard's default bucket edges: +-1e-12 growing by a factor 1.1 up to 1e20,
    and 0 (built by repeated multiplication, as PyTorch builds them, for the same
    floats)."""
    edge, edges = 1e-12, []
    while edge < 1e20:
        edges.append(edge)
        edge *= 1.1
    return np.array([-e for e in reversed(edges)] + [0.0] + edges)


TENSORFLOW_BINS = _tensorflow_bins()


def histogram(tag: str, values: Any, bins: Any, max_bins: int | None = None) -> bytes:
    """A histogram of ``values`` (as float64) in ``bins`` (any ``np.histogram`` bins),
    merged down to at most ``max_bins`` buckets, trimmed to the buckets from just
    before the first non-empty one to the last non-empty one (TensorBoard stores only
    right edges: the empty bucket on the left gives the leftmost edge)."""
    values = make_np(values).astype(float)
    if values.size == 0:
        raise ValueError("The input has no element.")
    values = values.reshape(-1)
    counts, limits = np.histogram(values, bins=bins)
    if max_bins is not None and len(counts) > max_bins:
        group = len(counts) // max_bins
        counts = np.pad(counts, (0, -len(counts) % group)).reshape(-1, group).sum(axis=-1)
        limits = np.append(limits[:-1:group], limits[-1])
    nonempty_so_far = np.cumsum(counts > 0)
    start, end = np.searchsorted(nonempty_so_far, [0, nonempty_so_far[-1] - 1], side="right")
    end += 1
    counts = counts[start - 1 : end] if start > 0 else np.concatenate([[0], counts[:end]])
    limits = limits[start : end + 1]
    if counts.size == 0 or limits.size == 0:
        raise ValueError("The histogram is empty, please file a bug report.")
    histo = M.histogram(
        values.min(), values.max(), len(values), values.sum(), values.dot(values), limits, counts
    )
    return M.summary(M.summary_value(tag, histo=histo))


def _numbers(x: Any) -> np.ndarray:
    return make_np(x) if isinstance(x, Tensor) else np.asarray(x)


def histogram_raw(
    tag: str, stats: Sequence[Any], bucket_limits: ArrayLike, bucket_counts: ArrayLike
) -> bytes:
    """A histogram given by its statistics (min, max, num, sum, sum_squares: numbers or
    1-element tensors), its buckets' right edges and counts."""
    histo = M.histogram(
        *(_numbers(v).item() for v in stats), _numbers(bucket_limits), _numbers(bucket_counts)
    )
    return M.summary(M.summary_value(tag, histo=histo))


def text(tag: str, text: str) -> bytes:
    """A string for the text plugin (which renders Markdown): a 1-element string
    tensor, tagged ``{tag}/text_summary``."""
    tensor = M.tensor(M.DT_STRING, [1], string_val=[text.encode("utf-8")])
    return M.summary(
        M.summary_value(tag + "/text_summary", tensor=tensor, metadata=M.plugin_metadata("text"))
    )


_DATA_TYPES = {  # numpy type -> DataType (types.proto)
    np.float32: 1,
    np.float64: 2,
    np.int32: 3,
    np.uint8: 4,
    np.int16: 5,
    np.int8: 6,
    np.int64: 9,
    np.bool_: 10,
    np.float16: 19,
}


def tensor(tag: str, value: Any) -> bytes:
    """A whole tensor for the tensor plugin: dtype, shape and its little-endian bytes
    (``tensor_content``, which TensorBoard decodes for every dtype)."""
    array = make_np(value)
    if array.nbytes >= 1 << 31:
        raise ValueError("tensor is bigger than protocol buffer's hard limit of 2GB in size")
    dtype = _DATA_TYPES.get(array.dtype.type)
    if dtype is None:
        raise ValueError(f"{tag} has unsupported tensor dtype {getattr(value, 'dtype', array.dtype)}")
    content = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
    proto = M.tensor(dtype, array.shape, content=content)
    return M.summary(M.summary_value(tag, tensor=proto, metadata=M.plugin_metadata("tensor")))


def _hparams_summary(tag: str, **plugin_data: bytes) -> bytes:
    content = M.hparams_plugin_data(**plugin_data)
    return M.summary(M.summary_value(tag, metadata=M.plugin_metadata("hparams", content)))


def hparams(
    hparam_dict: dict[str, Any],
    metric_dict: dict[str, Any],
    hparam_domain_discrete: dict[str, Sequence[Any]] | None = None,
) -> tuple[bytes, bytes, bytes]:
    """The hparams plugin's three summaries: the experiment (hyperparameters' names,
    types and optional discrete domains, metrics' tags), the session's start (the
    values) and its end (success). Numbers (bools and 1-element tensors included, as
    PyTorch writes them) are float64 hyperparameters, strings string ones; ``None``
    values are left out."""
    if not isinstance(hparam_dict, dict):
        raise TypeError("parameter: hparam_dict should be a dictionary, nothing logged.")
    if not isinstance(metric_dict, dict):
        raise TypeError("parameter: metric_dict should be a dictionary, nothing logged.")
    domains = hparam_domain_discrete or {}
    if not isinstance(domains, dict):
        raise TypeError("parameter: hparam_domain_discrete should be a dictionary, nothing logged.")
    for name, domain in domains.items():
        if (
            name not in hparam_dict
            or not isinstance(domain, list)
            or not all(isinstance(d, type(hparam_dict[name])) for d in domain)
        ):
            raise TypeError(
                f"parameter: hparam_domain_discrete[{name}] should be a list of same type as hparam_dict[{name}]."
            )
    infos, values = [], {}
    for name, value in hparam_dict.items():
        if value is None:
            continue
        if isinstance(value, (int, float)):
            domain = [float(d) for d in domains[name]] if name in domains else None
            values[name] = float(value)
            infos.append(M.hparam_info(name, M.HPARAM_FLOAT64, domain))
        elif isinstance(value, str):
            values[name] = value
            infos.append(M.hparam_info(name, M.HPARAM_STRING, domains.get(name)))
        elif isinstance(value, Tensor):
            values[name] = float(make_np(value).reshape(-1)[0])
            infos.append(M.hparam_info(name, M.HPARAM_FLOAT64, None))
        else:
            raise ValueError("value should be one of int, float, str, bool, or torch.Tensor")
    return (
        _hparams_summary("_hparams_/experiment", experiment=M.experiment(infos, list(metric_dict))),
        _hparams_summary("_hparams_/session_start_info", session_start_info=M.session_start_info(values)),
        _hparams_summary("_hparams_/session_end_info", session_end_info=M.session_end_info(M.STATUS_SUCCESS)),
    )
