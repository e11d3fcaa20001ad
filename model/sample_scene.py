"""Deterministic sample scene in the domain of the default weights (OMBRIA-like flood mapping).

``python -m model.sample_scene [outdir]`` writes into ``outdir`` (default ``resources/sample``):

- ``optical.tif``: Sentinel-2-like false colour, 3 Byte bands [B11 SWIR, B8 NIR, B3 green], 512 x 512 at 10 m in
  UTM 33N (EPSG:32633), nodata 0 in a triangular corner, with thick and thin clouds hiding parts of the ground;
- ``sar.tif``: Sentinel-1-like VV backscatter (Float32, dB, speckled) on a different grid: EPSG:4326 at about 20 m;
- ``truth.tif``: the flood-water truth on the optical grid (Byte: 0 background, 1 flood water, 255 nodata), with a
  colour table and class names; clouds do not change it.

Water (a meandering river with a flooded plain and lakes, fractal shorelines) is dark in NIR/SWIR and in SAR.
Everything comes from a seeded generator and continuous fields evaluated at pixel centres, so every run writes
identical files.
"""

import sys
from pathlib import Path

import numpy as np
from osgeo import gdal, osr

SEED = 20240601
SIZE = 512
PIXEL = 10.0
ORIGIN = (600000.0, 5100000.0)  # upper-left corner, EPSG:32633
OPTICAL_EPSG, SAR_EPSG = 32633, 4326
SAR_PIXEL_DEG = (0.00026, 0.00018)  # about 20 m x 20 m at 46 degrees north
CLASSES = [("background", (217, 217, 217)), ("flood water", (31, 120, 180))]
DEFAULT_DIR = Path(__file__).resolve().parents[1] / "resources" / "sample"
gdal.UseExceptions()


class Field:
    """A smooth random field of about unit variance (sum of random plane waves over octaves), any (x, y) in metres."""

    def __init__(self, rng, scale, octaves=5, waves=16, decay=0.55):
        self.terms = []
        for octave in range(octaves):
            freq = 2.0 ** octave / scale
            theta, phase = rng.uniform(0, 2 * np.pi, waves), rng.uniform(0, 2 * np.pi, waves)
            self.terms.append((freq * np.cos(theta), freq * np.sin(theta), phase, decay ** octave))
        self.norm = np.sqrt(2.0 / waves / sum(t[3] ** 2 for t in self.terms))

    def __call__(self, x, y):
        out = np.zeros(np.shape(x))
        for fx, fy, phase, amp in self.terms:
            for i in range(len(phase)):
                out += amp * np.cos(2 * np.pi * (fx[i] * x + fy[i] * y) + phase[i])
        return out * self.norm


class Scene:
    """The continuous scene: water, land texture and clouds as functions of UTM coordinates."""

    def __init__(self, seed=SEED):
        rng = np.random.default_rng(seed)
        self.shore = Field(rng, 900.0)
        self.meander = Field(rng, 2500.0, octaves=3)
        self.texture = Field(rng, 700.0)
        self.fields = Field(rng, 250.0, octaves=3)
        self.cloud = Field(rng, 3000.0, octaves=4, decay=0.5)
        self.cloud_detail = Field(rng, 200.0, octaves=3)
        x0, y0 = ORIGIN
        extent = SIZE * PIXEL
        self.lakes = [(x0 + extent * fx, y0 - extent * fy, extent * r) for fx, fy, r in
                      [(0.22, 0.25, 0.11), (0.78, 0.72, 0.08), (0.7, 0.2, 0.05)]]
        self.x0, self.y0, self.extent = x0, y0, extent

    def water(self, x, y):
        u, v = (x - self.x0) / self.extent, (self.y0 - y) / self.extent
        centre = 0.55 + 0.12 * np.sin(2 * np.pi * (1.3 * u + 0.1)) + 0.05 * self.meander(x, y)
        width = 0.035 + 0.02 * (u > 0.45) * np.clip((u - 0.45) * 6, 0, 1)  # the river spreads into a flooded plain
        level = width - np.abs(v - centre) + 0.012 * self.shore(x, y)
        for lx, ly, radius in self.lakes:
            dist = np.hypot(x - lx, y - ly) / self.extent
            level = np.maximum(level, radius / self.extent - dist
                               + 0.025 * self.shore(x * 1.7, y * 1.7))
        return level > 0

    def cloud_opacity(self, x, y):
        c = self.cloud(x, y) + 0.25 * self.cloud_detail(x, y)
        thick = np.clip((c - 1.0) / 0.25, 0, 1)
        thin = 0.5 * np.clip((c - 0.45) / 0.45, 0, 1)
        return np.maximum(thick, thin)


def _centres(gt, width, height):
    cols, rows = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    return gt[0] + cols * gt[1], gt[3] + rows * gt[5]


def _srs(epsg):
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return srs


def _write(path, bands, gt, epsg, dtype, nodata, names, options):
    ds = gdal.GetDriverByName("GTiff").Create(str(path), bands[0].shape[1], bands[0].shape[0], len(bands), dtype,
                                              ["TILED=YES", "COMPRESS=DEFLATE"] + options)
    ds.SetGeoTransform(gt)
    ds.SetProjection(_srs(epsg).ExportToWkt())
    for i, (array, name) in enumerate(zip(bands, names)):
        band = ds.GetRasterBand(i + 1)
        band.SetNoDataValue(nodata)
        band.SetDescription(name)
        band.WriteArray(array)
    return ds


def generate(outdir=DEFAULT_DIR, seed=SEED):
    """Write optical.tif, sar.tif and truth.tif into ``outdir``; return their paths."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    scene = Scene(seed)
    rng = np.random.default_rng(seed + 1)

    gt = (ORIGIN[0], PIXEL, 0.0, ORIGIN[1], 0.0, -PIXEL)
    x, y = _centres(gt, SIZE, SIZE)
    water = scene.water(x, y)
    rows, cols = np.mgrid[0:SIZE, 0:SIZE]
    nodata = rows + cols < 90  # a triangular corner outside the satellite swath

    veg = np.clip(0.5 + 0.4 * scene.texture(x, y) + 0.25 * np.sign(scene.fields(x, y)), 0, 1)
    land = np.stack([140 - 60 * veg, 105 + 60 * veg, 85 - 25 * veg])  # SWIR, NIR, green
    wet = np.array([14.0, 20.0, 62.0])[:, None, None] + 6 * scene.texture(x * 3, y * 3)
    ground = np.where(water, wet, land) + rng.normal(0, 4, (3, SIZE, SIZE))
    opacity = scene.cloud_opacity(x, y)
    cloud = np.array([228.0, 236.0, 242.0])[:, None, None] + rng.normal(0, 3, (3, SIZE, SIZE))
    optical = np.clip(np.rint(ground * (1 - opacity) + cloud * opacity), 1, 255).astype(np.uint8)
    optical[:, nodata] = 0
    truth = np.where(nodata, 255, water).astype(np.uint8)

    to_sar = osr.CoordinateTransformation(_srs(OPTICAL_EPSG), _srs(SAR_EPSG))
    lon, lat = np.array(to_sar.TransformPoints([(ORIGIN[0] + dx, ORIGIN[1] - dy) for dx in (0, SIZE * PIXEL)
                                                for dy in (0, SIZE * PIXEL)]))[:, :2].T
    dlon, dlat = SAR_PIXEL_DEG
    west, north = np.floor(lon.min() / dlon - 2) * dlon, np.ceil(lat.max() / dlat + 2) * dlat
    sw, sh = int(np.ceil((lon.max() - west) / dlon)) + 2, int(np.ceil((north - lat.min()) / dlat)) + 2
    sgt = (west, dlon, 0.0, north, 0.0, -dlat)
    slon, slat = _centres(sgt, sw, sh)
    back = osr.CoordinateTransformation(_srs(SAR_EPSG), _srs(OPTICAL_EPSG))
    pts = np.array(back.TransformPoints(np.c_[slon.ravel(), slat.ravel()].tolist()))
    sx, sy = pts[:, 0].reshape(sh, sw), pts[:, 1].reshape(sh, sw)
    sigma0_db = np.where(scene.water(sx, sy), -21.0, -9.0 + 1.5 * scene.texture(sx, sy) + 1.0 * scene.fields(sx, sy))
    speckle = rng.gamma(4.0, 0.25, (sh, sw))  # 4-look intensity speckle
    sar = (10 * np.log10(10 ** (sigma0_db / 10) * speckle)).astype(np.float32)

    paths = [outdir / n for n in ("optical.tif", "sar.tif", "truth.tif")]
    _write(paths[0], list(optical), gt, OPTICAL_EPSG, gdal.GDT_Byte, 0, ["B11", "B8", "B3"], ["PREDICTOR=2"])
    _write(paths[1], [sar], sgt, SAR_EPSG, gdal.GDT_Float32, -9999.0, ["VV"], [])
    ds = _write(paths[2], [truth], gt, OPTICAL_EPSG, gdal.GDT_Byte, 255, ["flood truth"], [])
    band = ds.GetRasterBand(1)
    table = gdal.ColorTable()
    for value, (_, rgb) in enumerate(CLASSES):
        table.SetColorEntry(value, (*rgb, 255))
    band.SetColorTable(table)
    band.SetCategoryNames([name for name, _ in CLASSES])
    ds = None
    return paths


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    outdir = Path(argv[0]) if argv else DEFAULT_DIR
    for path in generate(outdir):
        print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
