"""Outputs pinned by checksums: ``segment()`` on the bundled sample (default weights, all four outputs) and on two
generated scenes (tiny random weights; an extent, odd tiles and batches; a scene over 1024 pixels a side, whose
statistics come from sampled windows) must give these very pixels.  The checksums in tests/data/reference_outputs.json
were recorded before the core's layout redesign, so the redesign changed no output bit; the issue "Real inputs, real
units" then changed one on purpose (the extent case's confidence: its statistics now come from the inputs' whole
overlap), and on 2026-12-08 again (the network reads 32 px around a processing extent).  A change that is meant to
change outputs records new ones
(``python tests/integration/test_reference_outputs.py > tests/data/reference_outputs.json``) and says why in its
commit.

Float outputs depend on the number of PyTorch threads (the order of sums), so the runs use the recorded count."""

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO / "tests" / "data" / "reference_outputs.json"
SAMPLE = REPO / "resources" / "sample"
THREADS = 2


def _scene(folder, rows, cols, seed):
    """A 3-band UInt16 optical at 10 m (dark meandering stripe, nodata corner) and a SAR at 20 m shifted by 10 m."""
    from helpers.rasters import write_raster
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:rows, 0:cols]
    water = np.abs(xx - cols / 2 - 10 * np.sin(yy / 9)) < cols / 8
    optical = rng.integers(800, 3000, size=(3, rows, cols)).astype(np.uint16)
    optical[:, water] //= 6
    optical[:, :9, :9] = 0
    sar = rng.normal(-9, 1.5, size=(1, rows // 2 + 3, cols // 2 + 3)).astype(np.float32)
    x0, y0 = 500000.0, 4600000.0
    return (write_raster(folder / f"opt_{rows}.tif", optical, (x0, 10.0, 0, y0, 0, -10.0), nodata=0),
            write_raster(folder / f"sar_{rows}.tif", sar, (x0 - 10, 20.0, 0, y0 + 10, 0, -20.0), nodata=-9999.0))


def cases(folder):
    """name -> (optical, SAR, weights, optional outputs, options)."""
    from helpers.weights import make_weights
    tiny = make_weights(folder / "tiny.pt")
    small_opt, small_sar = _scene(folder, 150, 200, 3)
    large_opt, large_sar = _scene(folder, 1100, 1300, 4)
    return {
        "sample_default": (SAMPLE / "optical.tif", SAMPLE / "sar.tif", REPO / "resources" / "edc_default.pt",
                           ("confidence", "cloudfree", "reliability"), {}),
        "small_tiny_extent": (small_opt, small_sar, tiny, ("confidence",),
                              dict(tile_size=64, overlap=16, batch_size=3,
                                   extent=(500105.0, 4598600.0, 501800.0, 4599950.0))),
        "large_tiny_windows": (large_opt, large_sar, tiny, ("confidence", "reliability"),
                               dict(tile_size=128, overlap=24)),
    }


def digest(path):
    """sha256 of every band's pixels, the size and the geotransform of a raster."""
    from osgeo import gdal
    ds = gdal.Open(str(path))
    h = hashlib.sha256()
    for b in range(1, ds.RasterCount + 1):
        h.update(np.ascontiguousarray(ds.GetRasterBand(b).ReadAsArray()).tobytes())
    return {"sha256": h.hexdigest(), "size": [ds.RasterXSize, ds.RasterYSize, ds.RasterCount],
            "geotransform": list(ds.GetGeoTransform())}


def run_all(folder):
    """{case: {output: digest}} of every case, run with THREADS PyTorch threads."""
    import torch
    from helpers.inference import run_segment
    threads = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    try:
        digests = {}
        for name, (optical, sar, weights, extra, options) in cases(folder).items():
            outputs = {key: folder / f"{name}_{key}.tif" for key in extra}
            run_segment(optical, sar, weights, folder / f"{name}.tif", **outputs, **options)
            digests[name] = {"land cover": digest(folder / f"{name}.tif"),
                             **{key: digest(path) for key, path in outputs.items()}}
        return digests
    finally:
        torch.set_num_threads(threads)


@pytest.mark.slow
def test_outputs_match_the_recorded_checksums(tmp_path):
    import torch
    reference = json.loads(REFERENCE.read_text())
    if reference["torch"] != torch.__version__:
        pytest.skip(f"checksums recorded with torch {reference['torch']}, this is {torch.__version__}")
    assert run_all(tmp_path) == reference["cases"]


if __name__ == "__main__":  # records new checksums: python tests/integration/test_reference_outputs.py > FILE
    import tempfile

    import torch
    sys.path[:0] = [str(REPO), str(REPO / "tests")]
    with tempfile.TemporaryDirectory() as work:
        print(json.dumps({"torch": torch.__version__, "threads": THREADS, "cases": run_all(Path(work))}, indent=1))
