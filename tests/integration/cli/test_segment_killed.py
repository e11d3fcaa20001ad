"""A ``segment()`` run stopped from outside in the middle of writing: killed (SIGKILL, as the OOM killer does), the
previous output stays as it was and only hidden temporary files are left; terminated (SIGTERM, as a closed session or
a job scheduler does), the run stops as if cancelled and leaves nothing at all."""

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
try:
    run_segment(*sys.argv[1:5], tile_size=32, overlap=0, batch_size=1, confidence=sys.argv[5],
                progress=lambda pct: print("progress", pct, flush=True))
except Exception as exc:
    print("stopped:", exc, flush=True)
    sys.exit(3)
"""


def _stop_midway(weights, pair, folder, signum):
    """Run the child on ``pair`` into ``folder`` and send it ``signum`` at 10 %; (its exit status, its output)."""
    optical, sar = pair
    out, conf = folder / "lc.tif", folder / "conf.tif"
    out.write_bytes(b"previous result")
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(optical), str(sar), str(weights), str(out), str(conf)],
                             cwd=REPO, stdout=subprocess.PIPE, text=True)
    seen = []
    for line in child.stdout:
        seen.append(line)
        if line.startswith("progress") and float(line.split()[1]) > 10:
            child.send_signal(signum)
            break
    seen += child.stdout.readlines()
    child.wait(timeout=60)
    assert out.read_bytes() == b"previous result" and not conf.exists()
    return child.returncode, seen


@pytest.mark.slow
def test_killed_run_leaves_the_previous_file(tiny_weights, make_pair, tmp_path):
    pair = make_pair(256, 256)
    status, _ = _stop_midway(tiny_weights, pair, tmp_path, signal.SIGKILL)
    assert status == -signal.SIGKILL
    kept = {"lc.tif", *(path.name for path in pair)}
    assert all(p.name.startswith(".") for p in tmp_path.iterdir() if p.name not in kept)


@pytest.mark.slow
def test_terminated_run_leaves_no_temporary_file(tiny_weights, make_pair, tmp_path):
    pair = make_pair(256, 256)
    status, seen = _stop_midway(tiny_weights, pair, tmp_path, signal.SIGTERM)
    assert status == 3 and "SIGTERM" in seen[-1], seen[-3:]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["lc.tif", *(path.name for path in pair)])
