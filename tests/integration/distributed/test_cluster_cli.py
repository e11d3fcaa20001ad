"""``python -m model.segment_many`` as a user runs it: on a cluster started with ``dask scheduler`` and two
``dask worker`` processes on 127.0.0.1 (torn down by the test), with a bad pair in the list; and with its own local
cluster, interrupted with Ctrl-C (SIGINT) midway, then run again to finish."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.inference import run_segment
from helpers.rasters import read_raster

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
SAMPLE = REPO / "resources" / "sample"
EXTENT = (601000.0, 5096000.0, 602000.0, 5097000.0)
EXTENT_ARG = ",".join(str(v) for v in EXTENT)
# 3 km x 3 km: in blocks of one tile step, about 150 blocks, several seconds of work after the first block is done
LARGE_EXTENT = (600500.0, 5095500.0, 603500.0, 5098500.0)
DASK = Path(sys.executable).parent / "dask"


def env():
    return {**os.environ, "PYTHONPATH": str(REPO)}


def command(*args):
    return [sys.executable, "-m", "model.segment_many", *map(str, args)]


@pytest.fixture
def user_cluster(tmp_path):
    """``dask scheduler`` and two ``dask worker`` processes (one thread each); yields the scheduler's address."""
    info = tmp_path / "scheduler.json"
    common = dict(cwd=REPO, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs = [subprocess.Popen([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(info)], **common)]
    try:
        deadline = time.time() + 60
        while not info.exists() and time.time() < deadline:
            time.sleep(0.2)
        for _ in range(2):
            procs.append(subprocess.Popen([str(DASK), "worker", "--scheduler-file", str(info), "--host", "127.0.0.1",
                                           "--nthreads", "1", "--no-dashboard"], **common))
        address = json.loads(info.read_text())["address"]
        import distributed
        with distributed.Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=90)
        yield address
    finally:
        for proc in reversed(procs):
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_pairs_on_a_users_cluster_with_a_bad_pair(tmp_path, tiny_weights, user_cluster):
    single = run_segment(SAMPLE / "optical.tif", SAMPLE / "sar.tif", tiny_weights, tmp_path / "single.tif",
                         tile_size=32, overlap=8, device="cpu", extent=EXTENT)
    (tmp_path / "pairs.csv").write_text(f"optical,sar,name\n{SAMPLE / 'optical.tif'},{SAMPLE / 'sar.tif'},good\n"
                                        f"{SAMPLE / 'optical.tif'},missing_sar.tif,bad\n")
    run = subprocess.run(command("--pairs", tmp_path / "pairs.csv", "--out", tmp_path / "out", "--weights",
                                 tiny_weights, "--scheduler", user_cluster, "--tile-size", 32, "--overlap", 8,
                                 "--device", "cpu", "--extent", EXTENT_ARG),
                         cwd=REPO, env=env(), capture_output=True, text=True, timeout=300)
    assert run.returncode == 1, run.stderr
    summary = json.loads(run.stdout)
    assert summary["done"] == 1 and summary["failed"] == 1
    assert summary["failures"][0]["name"] == "bad" and "missing_sar.tif" in summary["failures"][0]["reason"]
    assert "FAILED bad:" in run.stderr and "of the cluster at tcp://127.0.0.1" in run.stderr
    assert (read_raster(tmp_path / "out" / "good.tif") == read_raster(single.output_path)).all()


def test_ctrl_c_then_a_rerun_finishes_the_mosaic(tmp_path, tiny_weights):
    single = run_segment(SAMPLE / "optical.tif", SAMPLE / "sar.tif", tiny_weights, tmp_path / "single.tif",
                         tile_size=32, overlap=8, device="cpu", extent=LARGE_EXTENT)
    args = command("--optical", SAMPLE / "optical.tif", "--sar", SAMPLE / "sar.tif", "--out", tmp_path / "m.tif",
                   "--weights", tiny_weights, "--workers", 2, "--block-size", 24, "--tile-size", 32, "--overlap",
                   8, "--device", "cpu", "--extent", ",".join(str(v) for v in LARGE_EXTENT), "--cog")  # Ctrl-C midway
    manifest = tmp_path / "m_blocks" / "manifest.json"
    # A job started in the background by a non-interactive shell (as CI may run the suite) inherits SIGINT ignored,
    # and Python then installs no KeyboardInterrupt handler: the child gets the default back, as in a terminal.
    proc = subprocess.Popen(args, cwd=REPO, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if manifest.exists() and json.loads(manifest.read_text())["done"]:
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "run the same command again" in err
    first = len(json.loads(manifest.read_text())["done"])
    assert first >= 1
    assert not (tmp_path / "m.tif").exists()
    again = subprocess.run(args, cwd=REPO, env=env(), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    summary = json.loads(again.stdout)
    assert summary["already_done"] == first and summary["done"] >= 1  # the rerun did only what was missing
    whole = read_raster(single.output_path)
    assert (read_raster(tmp_path / "m.vrt") == whole).all() and (read_raster(tmp_path / "m.tif") == whole).all()
    assert not [p for p in (tmp_path / "m_blocks").iterdir() if ".part" in p.name]
