"""``edc:segment_many`` in QGIS: one large pair in blocks on a local cluster of two worker processes started in the
background, cancelled midway from the feedback (nothing half-written kept, no mosaic), then run again in a
background task: it does only what is missing and the COG equals ``edc:segment`` on the whole scene.  And through
``qgis_process``, whose ``sys.executable`` is not Python, with a list of pairs holding a bad one."""

import json
import subprocess

import pytest
from helpers.qgis_tasks import LogFeedback, run_in_task
from helpers.rasters import read_raster
from qgis.core import QgsProcessingContext, QgsProcessingException, QgsProcessingFeedback

pytestmark = pytest.mark.slow  # worker processes started for each run


class CancelAfterFirstBlock(QgsProcessingFeedback):
    def setProgress(self, progress):  # noqa: N802 (QGIS API)
        super().setProgress(progress)
        if progress > 0:
            self.cancel()


def many_params(scene, weights, folder, **extra):
    return {"OPTICAL": str(scene["optical"]), "SAR": str(scene["sar"]), "WEIGHTS": str(weights), "DEVICE": 1,
            "BLOCK_SIZE": 64, "WORKERS": 2, "TILE_SIZE": 32, "OVERLAP": 4, "OUTPUT": str(folder), **extra}


def test_cancel_then_resume_in_a_background_task(provider, scene, edc_weights, tmp_path):
    import processing
    from qgis.core import QgsApplication

    single = processing.run("edc:segment", {"OPTICAL": str(scene["optical"]), "SAR": str(scene["sar"]),
                                            "WEIGHTS": str(edc_weights), "DEVICE": 1, "TILE_SIZE": 32, "OVERLAP": 4,
                                            "OUTPUT": str(tmp_path / "single.tif")})["OUTPUT"]
    folder = tmp_path / "many"
    feedback = CancelAfterFirstBlock()
    with pytest.raises(QgsProcessingException, match="(?i)cancel"):
        processing.run("edc:segment_many", many_params(scene, edc_weights, folder), feedback=feedback)
    blocks = folder / "optical_blocks"
    done = json.loads((blocks / "manifest.json").read_text())["done"]
    assert 1 <= len(done) < 6  # 2 x 3 blocks
    assert not (folder / "optical.vrt").exists() and not (folder / "optical.tif").exists()
    assert not [p for p in blocks.iterdir() if ".part" in p.name]

    alg = QgsApplication.processingRegistry().createAlgorithmById("edc:segment_many")
    feedback = LogFeedback()
    ok, results, progress = run_in_task(alg, many_params(scene, edc_weights, folder), QgsProcessingContext(),
                                        feedback)
    assert ok, feedback.messages
    assert results["FAILED"] == 0 and results["DONE"] == 6 and results["MOSAIC"] == str(folder / "optical.tif")
    assert any(f"{len(done)} of 6 already done" in m for m in feedback.messages)
    assert max(progress) == 100
    assert (read_raster(results["MOSAIC"]) == read_raster(single)).all()
    assert {s["name"] for s in json.loads(results["CLASS_STATS"])} == {"bare soil", "vegetation", "water"}


def test_qgis_process_runs_a_list_of_pairs_with_a_bad_one(qgis_process, scene, edc_weights, tmp_path):
    argv, env = qgis_process
    (tmp_path / "pairs.csv").write_text(f"optical,sar,name\n{scene['optical']},{scene['sar']},good\n"
                                        f"{scene['optical']},absent.tif,bad\n")
    run = subprocess.run(argv + ["--json", "run", "edc:segment_many", "--", f"PAIRS={tmp_path / 'pairs.csv'}",
                                 f"WEIGHTS={edc_weights}", "DEVICE=1", "WORKERS=2", "TILE_SIZE=32", "OVERLAP=4",
                                 f"OUTPUT={tmp_path / 'out'}"], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = json.loads(run.stdout)["results"]
    assert results["DONE"] == 1 and results["FAILED"] == 1
    assert json.loads(results["FAILURES"])[0]["name"] == "bad"
    assert read_raster(tmp_path / "out" / "good.tif").shape == (1, 100, 120)
