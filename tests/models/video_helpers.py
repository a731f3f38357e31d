"""Stand-in decoders for the video tests; they run in spawned child processes."""

import os
import signal

import numpy as np


def crash_after_one_frame(path, conn):
    conn.send(("frame", 2, 3))
    conn.send_bytes(np.zeros(18, np.uint8).data)
    os.kill(os.getpid(), signal.SIGSEGV)


def make_video(path, frames: np.ndarray, crf: int = 20) -> None:
    import av

    t, h, w, _ = frames.shape
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=24)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.options = {"crf": str(crf)}
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
