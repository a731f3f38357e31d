"""Frames from a video file (PyAV, decoded in a child process) or from a list of frame images.

A decoder that crashes (FFmpeg bugs do segfault on hostile files) takes only its child process
down: the caller gets :class:`~lookalike.models.errors.FramesError` saying so and how many
frames had arrived. A truncated or damaged stream yields what decoded, with a warning.
"""

from __future__ import annotations

__all__ = ["VIDEO_EXTENSIONS", "is_video", "iter_frames", "read_frames"]

import collections
import logging
import multiprocessing as mp
import os
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from lookalike.models.errors import FramesError, ImageLoadError

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".mts",
                              ".flv", ".wmv", ".3gp", ".ogv", ".y4m"})

Path_ = str | os.PathLike[str]


def is_video(path: Path_) -> bool:
    """Whether ``path`` is read as a video (by its extension); anything else is a frame image."""
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def _decode(path: str, conn) -> None:  # runs in the child process
    """Send ``("frame", h, w)`` + raw RGB bytes per frame, then ``("end", warning_or_None)``,
    or ``("error", message)`` when the file cannot be opened at all."""
    import av

    try:
        container = av.open(path)
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        conn.send(("error", f"cannot open {path} as a video: {exc}"))
        return
    warning = None
    sent = 0
    last_time = None
    try:
        with container:
            if not container.streams.video:
                conn.send(("error", f"{path} has no video stream"))
                return
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                arr = frame.to_ndarray(format="rgb24")
                conn.send(("frame", arr.shape[0], arr.shape[1]))
                conn.send_bytes(np.ascontiguousarray(arr).reshape(-1).data)
                sent += 1
                last_time = frame.time
            warning = _shortfall(path, sent, last_time, stream, container)
    except (av.error.FFmpegError, OSError, ValueError, EOFError) as exc:
        warning = f"{path}: the video stream is damaged or truncated after {sent} frames ({exc})"
    conn.send(("end", warning))


def _shortfall(path: str, sent: int, last_time: float | None, stream, container) -> str | None:
    """A warning when fewer frames decoded than the file declares (a truncated file often
    decodes without any error, it just stops)."""
    declared = int(stream.frames or 0)
    if declared and sent < declared:
        return f"{path}: the video is truncated or damaged: {sent} of {declared} frames decoded"
    rate = float(stream.average_rate or stream.guessed_rate or 0)
    duration = container.duration / 1_000_000 if container.duration else None
    if duration and last_time is not None and rate and last_time + 2.5 / rate < duration:
        return (f"{path}: the video is truncated or damaged: frames end at {last_time:.2f} s "
                f"of {duration:.2f} s ({sent} frames decoded)")
    return None


def _video_frames(path: str, decoder=_decode) -> Iterator[np.ndarray]:
    """Frames decoded by ``decoder(path, conn)`` in a spawned child process (injectable for tests)."""
    ctx = mp.get_context("spawn")
    recv, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=decoder, args=(path, send), daemon=True)
    child.start()
    send.close()
    count = 0
    try:
        while True:
            try:
                msg = recv.recv()
                if msg[0] == "frame":
                    buf = recv.recv_bytes()
            except EOFError:
                child.join(5)
                code = child.exitcode
                how = f"signal {-code}" if code is not None and code < 0 else f"exit status {code}"
                raise FramesError(f"the video decoder crashed ({how}) after {count} frames of {path}") from None
            if msg[0] == "frame":
                count += 1
                yield np.frombuffer(buf, dtype=np.uint8).reshape(msg[1], msg[2], 3)
            elif msg[0] == "error":
                raise FramesError(msg[1])
            else:
                if msg[1]:
                    log.warning("%s", msg[1])
                if count == 0:
                    raise FramesError(f"no frame could be decoded from {path}")
                return
    finally:
        recv.close()
        if child.is_alive():
            child.terminate()
        child.join(5)


def _image_frames(paths: Sequence[Path_]) -> Iterator[np.ndarray]:
    from lookalike.models.io.images import load_image

    size = None
    for p in paths:
        try:
            img = load_image(p)
        except ImageLoadError as exc:
            raise FramesError(f"cannot read frame {exc}") from None
        h, w = img.pixels.shape[:2]
        if size is None:
            size = (h, w, str(p))
        elif (h, w) != size[:2]:
            raise FramesError(f"frames differ in size: {size[2]} is {size[1]}x{size[0]}, {p} is {w}x{h}")
        yield img.pixels


def iter_frames(inputs: Sequence[Path_]) -> Iterator[np.ndarray]:
    """``(H, W, 3) uint8`` RGB frames, in order: one video file, or frame images of one size."""
    inputs = list(inputs)
    if not inputs:
        raise FramesError("no input: give a video file or frame images")
    videos = [p for p in inputs if is_video(p)]
    if videos and len(inputs) > 1:
        raise FramesError("give one video file, or frame images, not both or several videos")
    for p in inputs:
        if not Path(p).exists():
            raise FramesError(f"{p} does not exist")
    if videos:
        yield from _video_frames(str(videos[0]))
    else:
        yield from _image_frames(inputs)


def read_frames(inputs: Sequence[Path_], first: int | None = None, last: int | None = None) -> np.ndarray:
    """``(T, H, W, 3) uint8``: all frames, or the ``first`` N, or the ``last`` N (the others
    are decoded and dropped, never held)."""
    if first is not None and last is not None:
        raise ValueError("give first or last, not both")
    for n in (first, last):
        if n is not None and n < 1:
            raise ValueError(f"the number of frames must be at least 1, got {n}")
    frames = iter_frames(inputs)
    if last is not None:
        kept = list(collections.deque(frames, maxlen=last))
    else:
        kept = []
        for f in frames:
            kept.append(f)
            if first is not None and len(kept) >= first:
                frames.close()
                break
    return np.stack(kept)
