import threading

import pytest
import torch

from lookalike.models.threads import job_workers, run_jobs, torch_threads


def test_run_jobs_keeps_the_order_and_runs_side_by_side():
    seen = set()
    barrier = threading.Barrier(2, timeout=10)

    def job(x):
        seen.add(threading.get_ident())
        if x < 2:
            barrier.wait()  # both first jobs must be running at once, or this times out
        return x * x

    assert run_jobs(job, range(6), workers=2) == [x * x for x in range(6)]
    assert len(seen) == 2


def test_run_jobs_uses_one_torch_thread_a_job_and_restores_the_setting():
    before = torch.get_num_threads()
    inside = run_jobs(lambda _: torch.get_num_threads(), range(3), workers=2)
    assert inside == [1, 1, 1]
    assert torch.get_num_threads() == before


def test_an_error_in_a_job_is_raised_and_the_setting_restored():
    before = torch.get_num_threads()

    def job(x):
        if x == 3:
            raise ValueError("bad item")
        return x

    with pytest.raises(ValueError, match="bad item"):
        run_jobs(job, range(5), workers=2)
    assert torch.get_num_threads() == before


def test_nested_settings_restore_the_outermost_value():
    before = torch.get_num_threads()
    with torch_threads(1):
        with torch_threads(1):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_job_workers_is_bounded_by_the_jobs_and_the_limit():
    assert job_workers(0) == 1
    assert job_workers(1) == 1
    assert job_workers(100, limit=2) <= 2
    assert run_jobs(lambda x: x, []) == []


def test_a_thread_setting_is_lowered_once_for_concurrent_users():
    from lookalike.models.threads import ThreadSetting

    value = [8]
    calls = []

    def set_(n):
        calls.append(n)
        value[0] = n

    setting = ThreadSetting(lambda: value[0], set_)
    inside = threading.Event()
    release = threading.Event()

    def user():
        with setting.lowered(1):
            inside.set()
            release.wait(10)

    t = threading.Thread(target=user)
    t.start()
    assert inside.wait(10)
    with setting.lowered(1):  # a second user while the first is inside: nothing set again
        assert value[0] == 1
    assert value[0] == 1  # the first user is still inside
    release.set()
    t.join(10)
    assert value[0] == 8 and calls == [1, 8]
