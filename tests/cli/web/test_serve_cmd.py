"""`lookalike serve` as a user starts it: prints its address, answers, stops cleanly on Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request

LOOKALIKE = [sys.executable, "-c", "from lookalike.cli.app import main; main()"]


def test_serve_prints_its_address_answers_and_stops_on_ctrl_c(photo_index):
    ix_dir, _ = photo_index
    proc = subprocess.Popen([*LOOKALIKE, "serve", "--index", str(ix_dir), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith(f"lookalike: reviewing {ix_dir} at http://127.0.0.1:"), line
        url = line.split(" at ")[1].split()[0]
        with urllib.request.urlopen(url + "api/info", timeout=30) as r:
            assert json.loads(r.read())["images"] == 10  # 8 scenes, a copy, a mirror (the bad file is skipped)
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err


def test_a_busy_port_is_a_one_line_error(photo_index):
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        r = subprocess.run([*LOOKALIKE, "serve", "--index", str(photo_index[0]), "--port", str(port)],
                           capture_output=True, text=True, timeout=60, env={**os.environ})
    assert r.returncode == 1
    assert r.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}:") and r.stderr.count("\n") == 1
