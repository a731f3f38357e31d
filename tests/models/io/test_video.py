import logging

import numpy as np
import pytest
from PIL import Image

from lookalike.models.errors import FramesError
from lookalike.models.io.video import _video_frames, iter_frames, read_frames

from ..video_helpers import crash_after_one_frame, make_video


def ramp(n=20, h=48, w=64):
    return np.stack([np.full((h, w, 3), (10 * i) % 250, np.uint8) for i in range(n)])


def test_video_frames_first_last_and_all(tmp_path):
    make_video(tmp_path / "v.mkv", ramp())
    allf = read_frames([tmp_path / "v.mkv"])
    assert allf.shape == (20, 48, 64, 3) and allf.dtype == np.uint8
    assert np.abs(allf[:, 10, 10, 0].astype(int) - 10 * np.arange(20)).max() <= 3
    assert np.array_equal(read_frames([tmp_path / "v.mkv"], last=4), allf[-4:])
    assert np.array_equal(read_frames([tmp_path / "v.mkv"], first=3), allf[:3])


def test_truncated_video_yields_what_decoded_with_a_warning(tmp_path, caplog):
    make_video(tmp_path / "v.mkv", ramp(60, 96, 128))
    data = (tmp_path / "v.mkv").read_bytes()
    (tmp_path / "t.mkv").write_bytes(data[: len(data) // 2])
    with caplog.at_level(logging.WARNING):
        got = read_frames([tmp_path / "t.mkv"])
    assert 0 < len(got) < 60
    assert any("truncated" in r.message for r in caplog.records)


def test_unreadable_inputs_give_clear_errors(tmp_path):
    (tmp_path / "junk.mp4").write_bytes(b"nonsense" * 50)
    with pytest.raises(FramesError, match="cannot open"):
        read_frames([tmp_path / "junk.mp4"])
    with pytest.raises(FramesError, match="does not exist"):
        read_frames([tmp_path / "none.mp4"])
    Image.new("RGB", (8, 6)).save(tmp_path / "a.png")
    Image.new("RGB", (6, 8)).save(tmp_path / "b.png")
    with pytest.raises(FramesError, match="differ in size"):
        read_frames([tmp_path / "a.png", tmp_path / "b.png"])
    with pytest.raises(FramesError, match="one video"):
        list(iter_frames([tmp_path / "junk.mp4", tmp_path / "a.png"]))


def test_a_decoder_crash_is_reported_not_fatal(tmp_path):
    (tmp_path / "v.mp4").write_bytes(b"x")
    got = []
    with pytest.raises(FramesError, match=r"crashed \(signal 11\) after 1 frames"):
        for f in _video_frames(str(tmp_path / "v.mp4"), decoder=crash_after_one_frame):
            got.append(f)
    assert len(got) == 1 and got[0].shape == (2, 3, 3)


def test_frame_images_in_order(tmp_path):
    for i in range(3):
        Image.new("RGB", (5, 4), (i * 50, 0, 0)).save(tmp_path / f"f{i}.png")
    got = read_frames([tmp_path / f"f{i}.png" for i in range(3)])
    assert got.shape == (3, 4, 5, 3) and got[:, 0, 0, 0].tolist() == [0, 50, 100]
