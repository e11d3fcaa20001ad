"""The bundled sample scene: regenerating it gives the committed files; it looks like the default weights' domain."""

import hashlib

import numpy as np
from osgeo import gdal, osr

from model import sample_scene

gdal.UseExceptions()
FILES = ("optical.tif", "sar.tif", "truth.tif")


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_regenerating_gives_identical_files(tmp_path):
    sample_scene.main([str(tmp_path)])
    for name in FILES:
        assert _digest(tmp_path / name) == _digest(sample_scene.DEFAULT_DIR / name), name
    # the class names live in truth.tif.aux.xml, which QGIS may extend with statistics: compare them, not bytes
    names = []
    for folder in (tmp_path, sample_scene.DEFAULT_DIR):
        ds = gdal.Open(str(folder / "truth.tif"))  # keep the dataset alive while its band is used
        ds.GetRasterBand(1).GetMetadata()  # GDAL 3.6 loads the .aux.xml lazily
        names.append(ds.GetRasterBand(1).GetCategoryNames())
    assert names[0] == names[1] == ["background", "flood water"]


def test_sample_scene_content():
    folder = sample_scene.DEFAULT_DIR
    optical, sar, truth = (gdal.Open(str(folder / n)) for n in FILES)
    assert (optical.RasterCount, optical.RasterXSize, optical.RasterYSize) == (3, 512, 512)
    assert [optical.GetRasterBand(i + 1).GetDescription() for i in range(3)] == ["B11", "B8", "B3"]
    assert optical.GetSpatialRef().GetAuthorityCode(None) == "32633"
    assert sar.GetSpatialRef().GetAuthorityCode(None) == "4326"  # another CRS and resolution: warping is exercised
    truth.GetRasterBand(1).GetMetadata()  # GDAL 3.6 loads the .aux.xml with the category names lazily
    assert truth.GetRasterBand(1).GetCategoryNames() == ["background", "flood water"]
    assert sum(p.stat().st_size for p in folder.iterdir()) < 3 * 2 ** 20

    opt, lab, vv = optical.ReadAsArray().astype(float), truth.ReadAsArray(), sar.ReadAsArray()
    nodata = (opt == 0).all(axis=0)
    assert nodata[0, 0] and nodata.sum() == (lab == 255).sum() and 0.005 < nodata.mean() < 0.05
    water, land = lab == 1, lab == 0
    assert 0.05 < water.mean() < 0.5
    cloud = opt.min(axis=0) > 200
    assert 0.05 < cloud.mean() < 0.4 and cloud[water].any()  # clouds also hide water, the truth is unchanged
    clear = ~cloud & ~nodata
    assert opt[1][water & clear].mean() < opt[1][land & clear].mean() / 3  # water is dark in NIR
    assert opt[0][water & clear].mean() < opt[0][land & clear].mean() / 3  # and in SWIR
    # SAR: sample the truth at SAR pixel centres through the CRS transformation; water is dark there too
    gt = sar.GetGeoTransform()
    rows, cols = np.mgrid[0:vv.shape[0]:7, 0:vv.shape[1]:7]
    lon, lat = gt[0] + (cols + 0.5) * gt[1], gt[3] + (rows + 0.5) * gt[5]
    src, dst = osr.SpatialReference(), osr.SpatialReference()
    src.ImportFromEPSG(4326)
    dst.ImportFromEPSG(32633)
    for s in (src, dst):
        s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    pts = np.array(osr.CoordinateTransformation(src, dst).TransformPoints(np.c_[lon.ravel(), lat.ravel()].tolist()))
    tgt = truth.GetGeoTransform()
    c = ((pts[:, 0] - tgt[0]) / tgt[1]).astype(int)
    r = ((pts[:, 1] - tgt[3]) / tgt[5]).astype(int)
    inside = (c >= 0) & (c < 512) & (r >= 0) & (r < 512)
    labels, values = lab[r[inside], c[inside]], vv[rows.ravel()[inside], cols.ravel()[inside]]
    assert np.median(values[labels == 1]) < np.median(values[labels == 0]) - 8
