"""segment(): output grid, nodata, styling metadata, optional outputs, statistics, cancel and errors."""

import numpy as np
import pytest
from osgeo import gdal

from model.errors import EDCCancelled, EDCInputError
from model.pipeline import segment

gdal.UseExceptions()


@pytest.fixture(autouse=True)
def _one_thread():
    import torch
    torch.set_num_threads(1)


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if ".part" in p.name)


def test_segment_writes_styled_land_cover_on_optical_grid(tiny_weights, make_pair, tmp_path):
    optical, sar = make_pair(96, 128)
    out = tmp_path / "out" / "lc.tif"
    out.parent.mkdir()
    messages, progress = [], []
    result = segment(optical, sar, tiny_weights, out, tile_size=64, overlap=16, batch_size=2,
                     confidence_path=out.with_name("conf.tif"), cloudfree_path=out.with_name("cf.tif"),
                     reliability_path=out.with_name("rel.tif"), log=messages.append, progress=progress.append)
    src, ds = gdal.Open(str(optical)), gdal.Open(str(out))
    assert (ds.RasterXSize, ds.RasterYSize) == (128, 96) == (result.width, result.height)
    assert ds.GetGeoTransform() == pytest.approx(src.GetGeoTransform())
    band = ds.GetRasterBand(1)
    assert band.DataType == gdal.GDT_Byte and band.GetNoDataValue() == 255
    assert band.GetCategoryNames()[:2] == ["background", "flood water"]
    assert band.GetColorTable().GetColorEntry(1)[:3] == (0x1f, 0x78, 0xb4)
    assert band.GetOverviewCount() >= 0 and ds.GetMetadata("IMAGE_STRUCTURE")["COMPRESSION"] == "DEFLATE"
    assert out.with_suffix(".qml").read_text().count("paletteEntry") == 2
    classes = band.ReadAsArray()
    assert (classes[:8, :8] == 255).all()  # optical nodata corner
    assert set(np.unique(classes[8:, 8:])) <= {0, 1}
    assert sum(s["pixels"] for s in result.class_stats) == (classes != 255).sum()
    assert result.class_stats[0]["area"] == pytest.approx(result.class_stats[0]["pixels"] * 100.0)
    conf = gdal.Open(str(out.with_name("conf.tif"))).ReadAsArray()
    assert (conf[:8, :8] == -9999).all() and ((conf[8:, 8:] >= 0.5) & (conf[8:, 8:] <= 1)).all()
    cf = gdal.Open(str(out.with_name("cf.tif")))
    assert cf.RasterCount == 3 and cf.GetRasterBand(1).GetDescription() == "B11"
    rel = gdal.Open(str(out.with_name("rel.tif"))).ReadAsArray()
    assert ((rel[8:, 8:] >= 0) & (rel[8:, 8:] <= 1)).all()
    assert any("PyTorch on CPU" in m for m in messages) and result.device == "PyTorch on CPU"
    assert progress[-1] == 100 and progress == sorted(progress)
    assert _leftovers(out.parent) == []
