"""TensorBoard's messages, encoded: the fields irgrad writes, numbered as in
tensorflow/tensorboard's .proto files.

``Event`` (tensorboard/compat/proto/event.proto), ``Summary``, its ``Value``, ``Image``
and ``SummaryMetadata`` (summary.proto), ``HistogramProto`` (histogram.proto),
``TensorProto`` and ``TensorShapeProto`` (tensor.proto, tensor_shape.proto), and the
hparams plugin's ``HParamsPluginData`` with what it holds
(tensorboard/plugins/hparams/plugin_data.proto and api.proto; its values are
``google.protobuf.Value`` of struct.proto). Each function returns a message's bytes;
:mod:`.summaries` decides what goes in them, as PyTorch's writer does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .protobuf import bytes_field, double_field, float_field, packed_field, string_field, varint_field

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

# DataType (types.proto) of the tensors irgrad writes
DT_FLOAT, DT_DOUBLE, DT_STRING = 1, 2, 7
SESSION_LOG_START = 1  # SessionLog.SessionStatus.START


def event(
    wall_time: float,
    step: int,
    *,
    file_version: str | None = None,
    summary: bytes | None = None,
    session_log_status: int | None = None,
    source_writer: str | None = None,
) -> bytes:
    """An ``Event``: its time and step, and what it carries (one of the version line
    every file starts with, a ``Summary``, or a ``SessionLog`` status)."""
    fields = [double_field(1, wall_time), varint_field(2, step)]
    if file_version is not None:
        fields.append(string_field(3, file_version, always=True))
    if summary is not None:
        fields.append(bytes_field(5, summary, always=True))
    if session_log_status is not None:
        fields.append(bytes_field(7, varint_field(1, session_log_status), always=True))
    if source_writer is not None:
        fields.append(bytes_field(10, string_field(1, source_writer), always=True))
    return b"".join(fields)


def summary(*values: bytes) -> bytes:
    """A ``Summary`` of encoded ``Summary.Value`` messages."""
    return b"".join(bytes_field(1, value, always=True) for value in values)


def summary_value(
    tag: str,
    *,
    simple_value: float | None = None,
    image: bytes | None = None,
    histo: bytes | None = None,
    tensor: bytes | None = None,
    metadata: bytes | None = None,
) -> bytes:
    """A ``Summary.Value``: a tag, at most one value, and plugin metadata."""
    fields = [string_field(1, tag)]
    if simple_value is not None:
        fields.append(float_field(2, simple_value, always=True))
    for number, message in ((4, image), (5, histo), (8, tensor), (9, metadata)):
        if message is not None:
            fields.append(bytes_field(number, message, always=True))
    return b"".join(fields)


def plugin_metadata(plugin_name: str, content: bytes = b"") -> bytes:
    """A ``SummaryMetadata`` naming the plugin that shows the value, with the plugin's
    own encoded data."""
    plugin_data = string_field(1, plugin_name) + bytes_field(2, content)
    return bytes_field(1, plugin_data, always=True)


def histogram(
    min: float,
    max: float,
    num: float,
    sum: float,
    sum_squares: float,
    bucket_limit: ArrayLike,
    bucket: ArrayLike,
) -> bytes:
    """A ``HistogramProto``: the values' statistics, each bucket's right edge and count."""
    stats = (min, max, num, sum, sum_squares)
    return b"".join(double_field(number, value) for number, value in enumerate(stats, 1)) + (
        packed_field(6, bucket_limit, "<f8") + packed_field(7, bucket, "<f8")
    )


def image(height: int, width: int, colorspace: int, encoded_image: bytes) -> bytes:
    """A ``Summary.Image``: the size, the channel count and the encoded (PNG) image."""
    return (
        varint_field(1, height)
        + varint_field(2, width)
        + varint_field(3, colorspace)
        + bytes_field(4, encoded_image)
    )


def tensor(
    dtype: int,
    shape: Sequence[int] | None = None,
    *,
    content: bytes = b"",
    float_val: ArrayLike = (),
    double_val: ArrayLike = (),
    string_val: Sequence[bytes] = (),
) -> bytes:
    """A ``TensorProto``: its ``DataType``, shape (``None``: none written) and
    values, as raw little-endian ``content`` or in a typed repeated field."""
    fields = [varint_field(1, dtype)]
    if shape is not None:
        dims = b"".join(bytes_field(2, varint_field(1, size), always=True) for size in shape)
        fields.append(bytes_field(2, dims, always=True))
    fields += [bytes_field(4, content), packed_field(5, float_val, "<f4"), packed_field(6, double_val, "<f8")]
    fields += [bytes_field(8, text, always=True) for text in string_val]
    return b"".join(fields)


# --- the hparams plugin ------------------------------------------------------------------

# hparams DataType and Status (api.proto)
HPARAM_STRING, HPARAM_FLOAT64 = 1, 3
STATUS_SUCCESS = 1


def struct_value(value: float | str) -> bytes:
    """A ``google.protobuf.Value``: a string or a number (a double)."""
    if isinstance(value, str):
        return string_field(3, value, always=True)
    return double_field(2, value, always=True)


def hparam_info(name: str, data_type: int, domain_discrete: Sequence[float | str] | None) -> bytes:
    """An ``HParamInfo``: a hyperparameter's name and type, and the values it can take
    (a ``ListValue``) when they were given."""
    fields = string_field(1, name) + varint_field(4, data_type)
    if domain_discrete is not None:
        values = b"".join(bytes_field(1, struct_value(v), always=True) for v in domain_discrete)
        fields += bytes_field(5, values, always=True)
    return fields


def experiment(hparam_infos: Sequence[bytes], metric_tags: Sequence[str]) -> bytes:
    """An ``Experiment``: its hyperparameters and its metrics (each a ``MetricInfo``
    whose ``MetricName`` has the metric's tag)."""
    hparams = b"".join(bytes_field(4, info, always=True) for info in hparam_infos)
    metric_infos = (bytes_field(1, string_field(2, tag), always=True) for tag in metric_tags)
    return hparams + b"".join(bytes_field(5, info, always=True) for info in metric_infos)


def session_start_info(hparams: dict[str, float | str]) -> bytes:
    """A ``SessionStartInfo``: the run's hyperparameter values (a map of
    ``google.protobuf.Value``)."""
    entries = (
        string_field(1, name, always=True) + bytes_field(2, struct_value(value), always=True)
        for name, value in hparams.items()
    )
    return b"".join(bytes_field(1, entry, always=True) for entry in entries)


def session_end_info(status: int) -> bytes:
    """A ``SessionEndInfo`` with a ``Status``."""
    return varint_field(1, status)


def hparams_plugin_data(
    *,
    experiment: bytes | None = None,
    session_start_info: bytes | None = None,
    session_end_info: bytes | None = None,
) -> bytes:
    """An ``HParamsPluginData`` (version 0, which proto3 leaves out) holding one of an
    experiment, a session's start or its end."""
    parts = ((2, experiment), (3, session_start_info), (4, session_end_info))
    return b"".join(bytes_field(number, data, always=True) for number, data in parts if data is not None)
