"""A ``segment()`` run killed from outside (SIGKILL, as the OOM killer or a closed terminal does) in the middle of
writing: the previous output stays as it was, and only hidden temporary files are left."""

import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]

# The child runs segment() with a slow stand-in network and prints its progress; the test kills it mid-run.
CHILD = """
import sys
sys.path.insert(0, "tests")
from helpers.inference import SlowNet, run_segment
import model.inference.run
model.inference.run.load_predictor = lambda weights, **kw: SlowNet()
run_segment(*sys.argv[1:5], tile_size=32, overlap=0, batch_size=1, confidence=sys.argv[5],
            progress=lambda pct: print("progress", pct, flush=True))
"""


@pytest.mark.slow
def test_killed_run_leaves_the_previous_file(tiny_weights, make_pair, tmp_path):
    optical, sar = make_pair(256, 256)
    out, conf = tmp_path / "lc.tif", tmp_path / "conf.tif"
    out.write_bytes(b"previous result")
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(optical), str(sar), str(tiny_weights), str(out),
                              str(conf)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    for line in child.stdout:
        if line.startswith("progress") and float(line.split()[1]) > 10:
            child.send_signal(signal.SIGKILL)
            break
    child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL
    assert out.read_bytes() == b"previous result" and not conf.exists()
    assert all(p.name.startswith(".") for p in tmp_path.iterdir() if p.name not in (out.name, optical.name, sar.name))
