from __future__ import annotations

import os

from lookalike.indexer.describing import DescribeOutcome, describe_file, describe_files
from lookalike.models.io.files import scan


def crashing_describe(file, max_pixels):
    """Stands in for a decoder that kills its process on one file."""
    if os.path.basename(file.path).startswith("s3"):
        os._exit(3)
    return describe_file(file, max_pixels)


def test_a_crashing_decoder_costs_one_file(photo_dir):
    files, _ = scan([photo_dir])
    outcomes = list(describe_files(files, workers=2, chunk=2, describe=crashing_describe))
    by_name = {os.path.basename(o.file.path): o for o in outcomes}
    assert sorted(by_name) == sorted(os.path.basename(f.path) for f in files)
    assert by_name["s3.jpg"].record is None and "crashed" in by_name["s3.jpg"].detail
    good = [o for n, o in by_name.items() if n not in ("s3.jpg", "bad.jpg")]
    assert all(o.record is not None for o in good)


def test_pool_and_single_process_agree(photo_dir):
    files, _ = scan([photo_dir])
    one = {o.file.path: o.record for o in describe_files(files, workers=1)}
    two = {o.file.path: o.record for o in describe_files(files, workers=2, chunk=2)}
    assert one.keys() == two.keys()
    for k, r in one.items():
        if r is None:
            assert two[k] is None
        else:
            assert r.hash_hex == two[k].hash_hex and (r.vector == two[k].vector).all()


def report_thread_env(file, max_pixels):
    import os

    return DescribeOutcome(file, reason="probe", detail=os.environ.get("OPENBLAS_NUM_THREADS", "unset"))


def test_workers_run_their_math_libraries_on_one_thread(photo_dir, monkeypatch):
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    files = scan([photo_dir])[0][:6]
    outcomes = list(describe_files(files, workers=2, chunk=2, describe=report_thread_env))
    assert {o.detail for o in outcomes} == {"1"}
    assert "OPENBLAS_NUM_THREADS" not in os.environ  # this process is left as it was
