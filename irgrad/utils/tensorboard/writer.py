"""``SummaryWriter``, as ``torch.utils.tensorboard.SummaryWriter``: the same
constructor, methods, directories and file names, writing event files TensorBoard
reads, with no dependency beyond numpy."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from . import images, summaries
from . import messages as M
from .records import EventFile

__all__ = ["FileWriter", "SummaryWriter"]


class FileWriter:
    """One event file in ``log_dir``, starting with the ``brain.Event:2`` version
    event; it wraps summaries in ``Event`` messages (wall time and step)."""

    def __init__(self, log_dir: Any, max_queue: int = 10, flush_secs: float = 120, filename_suffix: str = ""):
        self._log_dir = str(log_dir)  # a pathlib.Path too, as PyTorch's
        self.event_file = EventFile(self._log_dir, max_queue, flush_secs, filename_suffix)
        self.event_file.add(
            M.event(time.time(), 0, file_version="brain.Event:2", source_writer="irgrad.utils.tensorboard")
        )
        self.event_file.flush()

    def get_logdir(self) -> str:
        """The directory of the event file."""
        return self._log_dir

    def add_event(self, step: Any = None, walltime: float | None = None, **payload: Any) -> None:
        """Add an ``Event`` at ``step`` (none: 0) and ``walltime`` (none: now) that
        carries ``payload``: the keyword arguments of :func:`.messages.event`."""
        wall_time = time.time() if walltime is None else float(walltime)
        self.event_file.add(M.event(wall_time, 0 if step is None else int(step), **payload))

    def add_summary(self, summary: bytes, global_step: Any = None, walltime: float | None = None) -> None:
        """Add an encoded ``Summary`` in an ``Event``."""
        self.add_event(global_step, walltime, summary=summary)

    def flush(self) -> None:
        """Write the waiting events to disk."""
        self.event_file.flush()

    def close(self) -> None:
        """Write the waiting events and close the file."""
        self.event_file.close()


def _not_written(name: str, what: str) -> Callable[..., None]:
    """A ``SummaryWriter`` method irgrad does not implement: it raises, naming it."""

    def method(self: SummaryWriter, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(
            f"SummaryWriter.{name}: irgrad does not write {what} (docs/pytorch-differences.md)"
        )

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"Not implemented: irgrad does not write {what}; this raises NotImplementedError."
    return method


class SummaryWriter:
    """Writes scalars, histograms, images, text and hyperparameters to event files in
    ``log_dir`` (default ``runs/{date}_{host}{comment}``) for TensorBoard, as
    ``torch.utils.tensorboard.SummaryWriter``: values may be irgrad tensors, numpy
    arrays or Python numbers. ``purge_step`` hides the events of an earlier run from
    that step on; ``max_queue`` and ``flush_secs`` say when waiting events are
    written (:class:`.records.EventFile`). ``add_scalars`` writes each of its tags
    into a subdirectory, ``add_hparams`` into a run directory, as PyTorch does.
    """

    def __init__(
        self,
        log_dir: Any = None,
        comment: str = "",
        purge_step: int | None = None,
        max_queue: int = 10,
        flush_secs: float = 120,
        filename_suffix: str = "",
    ):
        if not log_dir:
            log_dir = os.path.join(
                "runs", datetime.now().strftime("%b%d_%H-%M-%S") + "_" + socket.gethostname() + comment
            )
        self.log_dir = log_dir
        self.purge_step = purge_step
        self.max_queue = max_queue
        self.flush_secs = flush_secs
        self.filename_suffix = filename_suffix
        # the writers by directory; None once closed, until the next add_* reopens
        self.file_writer: FileWriter | None = None
        self.all_writers: dict[str, FileWriter] | None = None
        self._get_file_writer()

    def _get_file_writer(self) -> FileWriter:
        """The writer of ``log_dir``, in a new event file after :meth:`close`."""
        if self.all_writers is None or self.file_writer is None:
            self.file_writer = FileWriter(self.log_dir, self.max_queue, self.flush_secs, self.filename_suffix)
            self.all_writers = {self.file_writer.get_logdir(): self.file_writer}
            if self.purge_step is not None:
                # TensorBoard drops the events at and after a restart's step
                self.file_writer.add_event(self.purge_step, file_version="brain.Event:2")
                self.file_writer.add_event(self.purge_step, session_log_status=M.SESSION_LOG_START)
                self.purge_step = None
        return self.file_writer

    def get_logdir(self) -> Any:
        """The directory event files are written to."""
        return self.log_dir

    def add_hparams(
        self,
        hparam_dict: dict[str, Any],
        metric_dict: dict[str, Any],
        hparam_domain_discrete: dict[str, list[Any]] | None = None,
        run_name: str | None = None,
        global_step: int | None = None,
    ) -> None:
        """Add a run's hyperparameters (bool, str, int, float, a 1-element tensor or
        None) and metrics for the hparams plugin, in ``{log_dir}/{run_name}`` (default:
        the time), with each metric as a scalar there."""
        if type(hparam_dict) is not dict or type(metric_dict) is not dict:
            raise TypeError("hparam_dict and metric_dict should be dictionary.")
        experiment, start, end = summaries.hparams(hparam_dict, metric_dict, hparam_domain_discrete)
        logdir = os.path.join(self._get_file_writer().get_logdir(), run_name or str(time.time()))
        with SummaryWriter(log_dir=logdir) as run:
            for summary in (experiment, start, end):
                run._get_file_writer().add_summary(summary, global_step)
            for tag, value in metric_dict.items():
                run.add_scalar(tag, value, global_step)

    def add_scalar(
        self,
        tag: str,
        scalar_value: Any,
        global_step: int | None = None,
        walltime: float | None = None,
        new_style: bool = False,
        double_precision: bool = False,
    ) -> None:
        """Add one number (a 1-element tensor or array too) as a float32 scalar, or
        (``new_style``) as a float32/float64 tensor for the scalars plugin."""
        summary = summaries.scalar(tag, scalar_value, new_style, double_precision)
        self._get_file_writer().add_summary(summary, global_step, walltime)

    def add_scalars(
        self,
        main_tag: str,
        tag_scalar_dict: dict[str, Any],
        global_step: int | None = None,
        walltime: float | None = None,
    ) -> None:
        """Add several numbers to one chart: each as scalar ``main_tag`` in its own
        run directory ``{log_dir}/{main_tag with / as _}_{tag}``."""
        walltime = time.time() if walltime is None else walltime
        log_dir = self._get_file_writer().get_logdir()
        assert self.all_writers is not None
        for tag, scalar_value in tag_scalar_dict.items():
            run_dir = log_dir + "/" + main_tag.replace("/", "_") + "_" + tag
            if run_dir not in self.all_writers:
                self.all_writers[run_dir] = FileWriter(
                    run_dir, self.max_queue, self.flush_secs, self.filename_suffix
                )
            self.all_writers[run_dir].add_summary(
                summaries.scalar(main_tag, scalar_value), global_step, walltime
            )

    def add_tensor(
        self, tag: str, tensor: Any, global_step: int | None = None, walltime: float | None = None
    ) -> None:
        """Add a whole tensor (float, integer or bool) for the tensor plugin."""
        self._get_file_writer().add_summary(summaries.tensor(tag, tensor), global_step, walltime)

    def add_histogram(
        self,
        tag: str,
        values: Any,
        global_step: int | None = None,
        bins: Any = "tensorflow",
        walltime: float | None = None,
        max_bins: int | None = None,
    ) -> None:
        """Add a histogram of ``values``: TensorBoard's exponential buckets
        (``"tensorflow"``), or any ``bins`` of ``np.histogram`` (``"auto"``, ``"fd"``, a
        count, edges), at most ``max_bins`` of them."""
        if isinstance(bins, str) and bins == "tensorflow":
            bins = summaries.TENSORFLOW_BINS
        summary = summaries.histogram(tag, values, bins, max_bins=max_bins)
        self._get_file_writer().add_summary(summary, global_step, walltime)

    def add_histogram_raw(
        self,
        tag: str,
        min: float,
        max: float,
        num: int,
        sum: float,
        sum_squares: float,
        bucket_limits: Any,
        bucket_counts: Any,
        global_step: int | None = None,
        walltime: float | None = None,
    ) -> None:
        """Add a histogram given by its statistics and its buckets' right edges and
        counts."""
        if len(bucket_limits) != len(bucket_counts):
            raise ValueError("len(bucket_limits) != len(bucket_counts), see the document.")
        stats = (min, max, num, sum, sum_squares)
        summary = summaries.histogram_raw(tag, stats, bucket_limits, bucket_counts)
        self._get_file_writer().add_summary(summary, global_step, walltime)

    def add_image(
        self,
        tag: str,
        img_tensor: Any,
        global_step: int | None = None,
        walltime: float | None = None,
        dataformats: str = "CHW",
    ) -> None:
        """Add an image (``CHW``, ``HWC``, ``HW`` ...; float in 0..1 or uint8) as a PNG."""
        summary = images.image(tag, img_tensor, dataformats)
        self._get_file_writer().add_summary(summary, global_step, walltime)

    def add_images(
        self,
        tag: str,
        img_tensor: Any,
        global_step: int | None = None,
        walltime: float | None = None,
        dataformats: str = "NCHW",
    ) -> None:
        """Add a batch of images (``NCHW``, ``NHWC`` ...) laid out in a grid, 8 a row."""
        self.add_image(tag, img_tensor, global_step, walltime, dataformats)

    def add_figure(
        self,
        tag: str,
        figure: Any,
        global_step: int | None = None,
        close: bool = True,
        walltime: float | None = None,
    ) -> None:
        """Add a matplotlib figure (a list of them: a grid) as an image; closed if
        ``close``."""
        dataformats = "NCHW" if isinstance(figure, list) else "CHW"
        image = images.figure_to_image(figure, close)
        self.add_image(tag, image, global_step, walltime, dataformats=dataformats)

    def add_text(
        self, tag: str, text_string: str, global_step: int | None = None, walltime: float | None = None
    ) -> None:
        """Add a string (rendered as Markdown by TensorBoard) under ``{tag}/text_summary``."""
        self._get_file_writer().add_summary(summaries.text(tag, text_string), global_step, walltime)

    add_image_with_boxes = _not_written("add_image_with_boxes", "images with boxes drawn")
    add_video = _not_written("add_video", "videos")
    add_audio = _not_written("add_audio", "audio")
    add_onnx_graph = _not_written("add_onnx_graph", "ONNX graphs")
    add_graph = _not_written("add_graph", "model graphs")
    add_embedding = _not_written("add_embedding", "embeddings for the projector")
    add_pr_curve = _not_written("add_pr_curve", "precision-recall curves")
    add_pr_curve_raw = _not_written("add_pr_curve_raw", "precision-recall curves")
    add_custom_scalars_multilinechart = _not_written(
        "add_custom_scalars_multilinechart", "custom scalar layouts"
    )
    add_custom_scalars_marginchart = _not_written("add_custom_scalars_marginchart", "custom scalar layouts")
    add_custom_scalars = _not_written("add_custom_scalars", "custom scalar layouts")
    add_mesh = _not_written("add_mesh", "meshes")

    def flush(self) -> None:
        """Write every waiting event of every directory to disk."""
        for writer in (self.all_writers or {}).values():
            writer.flush()

    def close(self) -> None:
        """Write what waits and close the files (closing twice does nothing); a later
        ``add_*`` starts a new event file."""
        for writer in (self.all_writers or {}).values():
            writer.close()
        self.file_writer = self.all_writers = None

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
