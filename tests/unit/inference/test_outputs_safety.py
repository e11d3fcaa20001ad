"""Outputs that must not hurt: an output that is an input is refused, a SIGTERM mid-run leaves no temporary file,
and temporary files a killed run left for more than a day are swept by the next run."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from model.errors import EDCInputError
from model.inference import SegmentOptions
from model.inference.writers import sweep_stale_parts

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.real_data
@pytest.mark.parametrize("which", ["optical", "sar", "weights", "symlink", "confidence"])
def test_output_that_is_an_input_is_refused(which, shared_data, tiny_weights, tmp_path):
    optical = shared_data / "sen12ms_cr" / "s2_cloudy" / "ROIs2017_winter_112_p797.tif"
    sar = shared_data / "sen12ms_cr" / "s1" / "ROIs2017_winter_112_p797.tif"
    link = tmp_path / "link.tif"
    link.symlink_to(optical)
    target = {"optical": optical, "sar": sar, "weights": tiny_weights, "symlink": link, "confidence": sar}[which]
    kw = {"confidence": str(target)} if which == "confidence" else {}
    output = tmp_path / "lc.tif" if which == "confidence" else target
    options = SegmentOptions(str(optical), str(sar), str(tiny_weights), str(output), **kw)
    with pytest.raises(EDCInputError, match="writing it would replace the input; choose another file name"):
        options.output_paths()


def test_stale_temporary_files_are_swept(tmp_path):
    final = tmp_path / "lc.tif"
    old = time.time() - 2 * 24 * 3600
    stale = [tmp_path / ".lc.ab12cd_9.part.tif", tmp_path / ".lc.ab12cd_9.part.tif.aux.xml",
             tmp_path / ".lc.zz99zz99.part.tif.ovr"]
    kept = [tmp_path / ".lc.fresh123.part.tif",           # a running job's (recent)
            tmp_path / ".other.ab12cd_9.part.tif",         # another output's
            tmp_path / ".lc.notours.tif", tmp_path / "lc.tif"]
    for path in stale + kept:
        path.write_bytes(b"")
        if path.name != ".lc.fresh123.part.tif":
            os.utime(path, (old, old))
    sweep_stale_parts(final)
    assert [p.exists() for p in stale] == [False] * 3
    assert all(p.exists() for p in kept)


# The child runs segment() with a slow stand-in network and prints its progress; the test terminates it mid-run.
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


@pytest.mark.slow
def test_sigterm_removes_the_temporary_files(tiny_weights, make_pair, tmp_path):
    optical, sar = make_pair(256, 256)
    out, conf = tmp_path / "lc.tif", tmp_path / "conf.tif"
    out.write_bytes(b"previous result")
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(optical), str(sar), str(tiny_weights), str(out),
                              str(conf)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    seen = []
    for line in child.stdout:
        seen.append(line)
        if line.startswith("progress") and float(line.split()[1]) > 10:
            child.send_signal(signal.SIGTERM)
            break
    seen += child.stdout.readlines()
    child.wait(timeout=60)
    assert child.returncode == 3 and "SIGTERM" in seen[-1], seen[-3:]
    assert out.read_bytes() == b"previous result" and not conf.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["lc.tif", optical.name, sar.name])
