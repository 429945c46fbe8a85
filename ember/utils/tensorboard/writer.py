"""SummaryWriter: torch.utils.tensorboard's API on tensorboard's own EventFileWriter."""

from __future__ import annotations

import os
import socket
import time
import weakref
from datetime import datetime

from tensorboard.compat.proto import event_pb2
from tensorboard.compat.proto.event_pb2 import Event, SessionLog
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from ember.utils.tensorboard import summary as S
from ember.utils.tensorboard.graph import graph as _graph

__all__ = ["FileWriter", "SummaryWriter"]


class _Writers:
    """The file writers of one SummaryWriter, closed by a finalizer that holds this box (not the
    SummaryWriter): event files lose nothing when a writer is dropped without close(), whether
    it is garbage-collected or still alive at interpreter exit."""

    __slots__ = ("writers",)

    def __init__(self) -> None:
        self.writers: dict | None = None


def _close_writers(box: _Writers) -> None:
    writers, box.writers = box.writers, None
    for w in (writers or {}).values():
        try:
            w.flush()
            w.close()
        except Exception:
            pass


def _close_event_writer(event_writer: EventFileWriter) -> None:
    try:
        event_writer.close()  # flushes; a second close is a no-op
    except Exception:
        pass


class FileWriter:
    """Writes Event protos to one event file in log_dir (asynchronously, tensorboard's writer)."""

    def __init__(
        self, log_dir, max_queue: int = 10, flush_secs: int = 120, filename_suffix: str = ""
    ) -> None:
        self.event_writer = EventFileWriter(str(log_dir), max_queue, flush_secs, filename_suffix)
        weakref.finalize(self, _close_event_writer, self.event_writer)  # dropped without close()

    def get_logdir(self) -> str:
        return self.event_writer.get_logdir()

    def add_event(self, event, step=None, walltime=None) -> None:
        event.wall_time = time.time() if walltime is None else walltime
        if step is not None:
            event.step = int(step)
        self.event_writer.add_event(event)

    def add_summary(self, summary, global_step=None, walltime=None) -> None:
        self.add_event(event_pb2.Event(summary=summary), global_step, walltime)

    def add_graph(self, graph_profile, walltime=None) -> None:
        graph, stepstats = graph_profile
        self.add_event(event_pb2.Event(graph_def=graph.SerializeToString()), None, walltime)
        trm = event_pb2.TaggedRunMetadata(tag="step1", run_metadata=stepstats.SerializeToString())
        self.add_event(event_pb2.Event(tagged_run_metadata=trm), None, walltime)

    def flush(self) -> None:
        self.event_writer.flush()

    def close(self) -> None:
        self.event_writer.close()

    def reopen(self) -> None:
        self.event_writer.reopen()


class SummaryWriter:
    """Writes entries to event files in log_dir (default `runs/<date>_<host><comment>`) for TensorBoard."""

    def __init__(
        self,
        log_dir=None,
        comment: str = "",
        purge_step: int | None = None,
        max_queue: int = 10,
        flush_secs: int = 120,
        filename_suffix: str = "",
    ) -> None:
        if not log_dir:
            now = datetime.now().strftime("%b%d_%H-%M-%S")
            log_dir = os.path.join("runs", now + "_" + socket.gethostname() + comment)
        self.log_dir = str(log_dir)
        self.purge_step = purge_step
        self.max_queue = max_queue
        self.flush_secs = flush_secs
        self.filename_suffix = filename_suffix
        self.file_writer = self.all_writers = None
        self.default_bins = S.DEFAULT_BINS
        self._box = _Writers()
        self._finalizer = weakref.finalize(self, _close_writers, self._box)  # runs on GC and at exit
        self._get_file_writer()

    def _get_file_writer(self) -> FileWriter:
        """The default FileWriter; recreated (new event file) after close()."""
        if self.all_writers is None or self.file_writer is None:
            self.file_writer = FileWriter(self.log_dir, self.max_queue, self.flush_secs, self.filename_suffix)
            self.all_writers = {self.file_writer.get_logdir(): self.file_writer}
            if self.purge_step is not None:
                # TensorBoard hides events with step >= purge_step written before this restart
                self.file_writer.add_event(Event(step=self.purge_step, file_version="brain.Event:2"))
                start = Event(step=self.purge_step, session_log=SessionLog(status=SessionLog.START))
                self.file_writer.add_event(start)
                self.purge_step = None
            self._box.writers = self.all_writers
        return self.file_writer

    def get_logdir(self) -> str:
        return self.log_dir

    def _add(self, summary, global_step=None, walltime=None) -> None:
        self._get_file_writer().add_summary(summary, global_step, walltime)

    # -- scalars -------------------------------------------------------------------------------
    def add_scalar(
        self, tag: str, scalar_value, global_step=None, walltime=None, new_style: bool = False,
        double_precision: bool = False,
    ) -> None:  # fmt: skip
        self._add(S.scalar(tag, scalar_value, new_style, double_precision), global_step, walltime)

    def add_scalars(self, main_tag: str, tag_scalar_dict: dict, global_step=None, walltime=None) -> None:
        """One run per key, in `<log_dir>/<main_tag>_<key>`, each with tag main_tag (as torch)."""
        walltime = time.time() if walltime is None else walltime
        logdir = self._get_file_writer().get_logdir()
        for tag, value in tag_scalar_dict.items():
            fw_tag = logdir + "/" + main_tag.replace("/", "_") + "_" + tag
            fw = self.all_writers.get(fw_tag)
            if fw is None:
                fw = FileWriter(fw_tag, self.max_queue, self.flush_secs, self.filename_suffix)
                self.all_writers[fw_tag] = fw
            fw.add_summary(S.scalar(main_tag, value), global_step, walltime)

    # -- histograms ----------------------------------------------------------------------------
    def add_histogram(
        self, tag: str, values, global_step=None, bins="tensorflow", walltime=None, max_bins=None
    ) -> None:
        if isinstance(bins, str) and bins == "tensorflow":
            bins = self.default_bins
        self._add(S.histogram(tag, values, bins, max_bins=max_bins), global_step, walltime)

    def add_histogram_raw(
        self, tag: str, min, max, num, sum, sum_squares, bucket_limits, bucket_counts, global_step=None,
        walltime=None,
    ) -> None:  # fmt: skip
        if len(bucket_limits) != len(bucket_counts):
            raise ValueError("len(bucket_limits) != len(bucket_counts), see the document.")
        limits = S.make_np(bucket_limits).reshape(-1).tolist()
        counts = S.make_np(bucket_counts).reshape(-1).tolist()
        summ = S.histogram_raw(tag, min, max, num, sum, sum_squares, limits, counts)
        self._add(summ, global_step, walltime)

    # -- images, figures, text -----------------------------------------------------------------
    def add_image(
        self, tag: str, img_tensor, global_step=None, walltime=None, dataformats: str = "CHW"
    ) -> None:
        self._add(S.image(tag, img_tensor, dataformats=dataformats), global_step, walltime)

    def add_images(
        self, tag: str, img_tensor, global_step=None, walltime=None, dataformats: str = "NCHW"
    ) -> None:
        self._add(S.image(tag, img_tensor, dataformats=dataformats), global_step, walltime)

    def add_figure(self, tag: str, figure, global_step=None, close: bool = True, walltime=None) -> None:
        fmt = "NCHW" if isinstance(figure, list) else "CHW"
        self.add_image(tag, S.figure_to_image(figure, close), global_step, walltime, dataformats=fmt)

    def add_text(self, tag: str, text_string: str, global_step=None, walltime=None) -> None:
        self._add(S.text(tag, text_string), global_step, walltime)

    def add_audio(
        self, tag: str, snd_tensor, global_step=None, sample_rate: int = 44100, walltime=None
    ) -> None:
        self._add(S.audio(tag, snd_tensor, sample_rate=sample_rate), global_step, walltime)

    def add_custom_scalars(self, layout: dict) -> None:
        self._add(S.custom_scalars(layout))

    def add_custom_scalars_multilinechart(
        self, tags: list, category: str = "default", title: str = "untitled"
    ) -> None:
        self.add_custom_scalars({category: {title: ["Multiline", tags]}})

    def add_custom_scalars_marginchart(
        self, tags: list, category: str = "default", title: str = "untitled"
    ) -> None:
        if len(tags) != 3:
            raise AssertionError(f"Expected len(tags) to be 3, got {len(tags)}")
        self.add_custom_scalars({category: {title: ["Margin", tags]}})

    # -- hparams, pr curves, graph ---------------------------------------------------------------
    def add_hparams(
        self, hparam_dict: dict, metric_dict: dict, hparam_domain_discrete=None, run_name=None,
        global_step=None,
    ) -> None:  # fmt: skip
        if type(hparam_dict) is not dict or type(metric_dict) is not dict:
            raise TypeError("hparam_dict and metric_dict should be dictionary.")
        exp, ssi, sei = S.hparams(hparam_dict, metric_dict, hparam_domain_discrete)
        logdir = os.path.join(self._get_file_writer().get_logdir(), run_name or str(time.time()))
        with SummaryWriter(log_dir=logdir) as w:
            for s in (exp, ssi, sei):
                w.file_writer.add_summary(s, global_step)
            for k, v in metric_dict.items():
                w.add_scalar(k, v, global_step)

    def add_pr_curve(
        self, tag: str, labels, predictions, global_step=None, num_thresholds: int = 127, weights=None,
        walltime=None,
    ) -> None:  # fmt: skip
        self._add(S.pr_curve(tag, labels, predictions, num_thresholds, weights), global_step, walltime)

    def add_pr_curve_raw(
        self, tag: str, true_positive_counts, false_positive_counts, true_negative_counts,
        false_negative_counts, precision, recall, global_step=None, num_thresholds: int = 127,
        weights=None, walltime=None,
    ) -> None:  # fmt: skip
        summ = S.pr_curve_raw(
            tag, true_positive_counts, false_positive_counts, true_negative_counts,
            false_negative_counts, precision, recall, num_thresholds,
        )  # fmt: skip
        self._add(summ, global_step, walltime)

    def add_graph(
        self, model, input_to_model=None, verbose: bool = False, use_strict_trace: bool = True
    ) -> None:
        """The model's graph from one traced forward pass (no JIT; see graph.py)."""
        self._get_file_writer().add_graph(_graph(model, input_to_model, verbose))

    # -- lifetime --------------------------------------------------------------------------------
    def flush(self) -> None:
        if self.all_writers is None:
            return
        for w in self.all_writers.values():
            w.flush()

    def close(self) -> None:
        if self.all_writers is None:
            return  # double close is fine
        _close_writers(self._box)
        self.file_writer = self.all_writers = None

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(self, exc_type, exc_val, exc_tb) -> None:
        self.close()
