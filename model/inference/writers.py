"""The outputs of ``segment()``: GeoTIFFs written row by row under a temporary name and renamed when complete.

- :class:`GeoTiffWriter`: one GeoTIFF, its rows written as they arrive, overviews, atomic rename or removal.
- :class:`OutputSet`: the land-cover map (Byte, colour table, class names, ``.qml`` sidecar) and the optional
  confidence, cloud-free and reliability rasters of one run; it turns blended network outputs into their rows and
  counts the pixels and the true area (m^2, :mod:`model.geo.areas`) of every class.
"""

import glob
import os
import re
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from .. import normalization
from ..errors import WRITE_HINT, reported_as_input_error
from ..geo.areas import PixelAreas
from ..geo.rasters import gdal_modules
from ..vocabulary import NODATA_CLASS, NODATA_FLOAT, OUTPUT_BLOCK
from ..weights.metadata import class_colors_rgb

OPTIONAL_OUTPUTS = ("confidence", "cloud-free", "reliability")
STALE_SECONDS = 24 * 3600  # temporary files of ours older than this were left by a killed run


def sweep_stale_parts(final, now=None):
    """Remove the temporary files :class:`GeoTiffWriter` made for ``final`` (``.{stem}.XXXXXXXX.part.tif`` and their
    ``.aux.xml`` / ``.ovr``) that are older than a day: a run killed outright (SIGKILL, power loss) leaves them."""
    final = Path(final)
    ours = re.compile(rf"\.{re.escape(final.stem)}\.[a-z0-9_]{{8}}\.part\.tif(\.aux\.xml|\.ovr)?")
    limit = (time.time() if now is None else now) - STALE_SECONDS
    for name in glob.glob(os.path.join(glob.escape(str(final.parent)), glob.escape(f".{final.stem}.") + "*")):
        path = Path(name)
        try:
            if ours.fullmatch(path.name) and path.is_file() and path.stat().st_mtime < limit:
                path.unlink()
        except OSError:
            pass  # another run's file that vanished meanwhile, or one we may not remove: leave it


class GeoTiffWriter:
    """One output GeoTIFF written under a temporary name in its target folder and renamed when complete."""

    def __init__(self, final, grid, bands, dtype, nodata, resampling):
        gdal, _ = gdal_modules()
        self.final, self.resampling = Path(final), resampling
        fd, tmp = tempfile.mkstemp(prefix=f".{self.final.stem}.", suffix=".part.tif", dir=self.final.parent)
        os.close(fd)
        self.tmp = Path(tmp)
        self.ds = gdal.GetDriverByName("GTiff").Create(
            str(self.tmp), grid.width, grid.height, bands, dtype,
            ["TILED=YES", "COMPRESS=DEFLATE", "BIGTIFF=IF_SAFER", f"BLOCKXSIZE={OUTPUT_BLOCK}",
             f"BLOCKYSIZE={OUTPUT_BLOCK}"])
        self.ds.SetGeoTransform(grid.geotransform)
        if grid.wkt:
            self.ds.SetProjection(grid.wkt)
        for b in range(bands):
            self.ds.GetRasterBand(b + 1).SetNoDataValue(nodata)
        self.pending, self.pending_y = [], 0

    def write(self, y, array):
        """Queue rows ``y ..`` (rows arrive in order); whole rows of blocks go to the file at once and leave GDAL's
        cache, so memory does not grow with the scene height."""
        self.pending.append(array)
        end = y + array.shape[1]
        self._flush(end if end == self.ds.RasterYSize else end // OUTPUT_BLOCK * OUTPUT_BLOCK)

    def _flush(self, until):
        """Write the queued rows above row ``until``."""
        if until <= self.pending_y:
            return
        rows = np.concatenate(self.pending, axis=1)
        n = until - self.pending_y
        for b in range(rows.shape[0]):
            self.ds.GetRasterBand(b + 1).WriteArray(rows[b, :n], 0, self.pending_y)
        self.ds.FlushCache()  # writes the finished blocks and drops them from GDAL's cache
        self.pending, self.pending_y = [rows[:, n:]], until

    def finish(self):
        self.ds.BuildOverviews(self.resampling, [f for f in (2, 4, 8, 16, 32)
                                                 if min(self.ds.RasterXSize, self.ds.RasterYSize) // f >= 16])
        self.ds.FlushCache()
        self.ds = None

    def commit(self):
        """Rename the finished file (and its .aux.xml) to the final name, with the permissions a plain new file
        gets (the temporary file was created private, 0600, like every ``mkstemp`` file)."""
        os.chmod(self.tmp, 0o666 & ~_umask())
        aux = Path(str(self.tmp) + ".aux.xml")
        final_aux = Path(str(self.final) + ".aux.xml")
        Path(str(self.final) + ".ovr").unlink(missing_ok=True)
        if aux.exists():
            os.replace(aux, final_aux)
        else:
            final_aux.unlink(missing_ok=True)
        os.replace(self.tmp, self.final)

    def discard(self):
        self.ds = None
        for p in (self.tmp, Path(str(self.tmp) + ".aux.xml"), Path(str(self.tmp) + ".ovr")):
            p.unlink(missing_ok=True)


def _umask():
    """The process's file-creation mask (read by setting it, and setting it back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class OutputSet:
    """The output files of one run (``paths``: label -> Path, "land cover" and any of OPTIONAL_OUTPUTS) on ``grid``.

    ``channels`` is what the network must deliver per pixel: the class probabilities, then the cloud-free optical
    bands and the reliability where those outputs are asked for.  ``counts`` holds the pixels of every class,
    ``areas`` their area in m^2 (None where the grid has no CRS)."""

    def __init__(self, paths, grid, meta, n_optical):
        gdal, _ = gdal_modules()
        self.paths, self.meta, self.n_optical = paths, meta, n_optical
        self.n_classes = len(meta["classes"])
        self.counts = np.zeros(self.n_classes, np.int64)
        self.pixel_areas = PixelAreas.of(grid)
        self.areas = None if self.pixel_areas is None else np.zeros(self.n_classes)
        self.writers = {}
        for path in paths.values():
            sweep_stale_parts(path)
        try:
            with reported_as_input_error("Creating the output", WRITE_HINT):
                self._create(gdal, grid)
        except BaseException:
            self.discard()
            raise

    def _create(self, gdal, grid):
        paths = self.paths
        self.writers["land cover"] = land = GeoTiffWriter(paths["land cover"], grid, 1, gdal.GDT_Byte, NODATA_CLASS,
                                                          "NEAREST")
        describe_classes(gdal, land.ds.GetRasterBand(1), self.meta)
        for key, bands in zip(OPTIONAL_OUTPUTS, (1, self.n_optical, 1)):
            if key in paths:
                self.writers[key] = GeoTiffWriter(paths[key], grid, bands, gdal.GDT_Float32, NODATA_FLOAT, "AVERAGE")
        for b, name in enumerate(self.meta["inputs"]["optical"]["bands"] if "cloud-free" in paths else []):
            self.writers["cloud-free"].ds.GetRasterBand(b + 1).SetDescription(name)

    @property
    def wants_cloudfree(self):
        return "cloud-free" in self.paths

    @property
    def wants_reliability(self):
        return "reliability" in self.paths

    @property
    def channels(self):
        return self.n_classes + (self.n_optical if self.wants_cloudfree else 0) + (1 if self.wants_reliability else 0)

    def write_rows(self, y, values, valid, optical_stats):
        """Rows ``y ..`` of every output from the blended network outputs ``values`` (channels, h, w)."""
        with reported_as_input_error("Writing the output", WRITE_HINT):
            classes, confidence = argmax_max(values[:self.n_classes])
            classes[~valid] = NODATA_CLASS
            if self.pixel_areas is None:
                self.counts += np.bincount(classes.ravel(), minlength=NODATA_CLASS + 1)[:self.n_classes]
            else:
                pixels, areas = self.pixel_areas.count(y, classes, self.n_classes)
                self.counts += pixels
                self.areas += areas
            self.writers["land cover"].write(y, classes[None])
            if "confidence" in self.writers:
                self.writers["confidence"].write(y, np.where(valid, confidence, NODATA_FLOAT)[None])
            k = self.n_classes
            if self.wants_cloudfree:
                cloudfree = normalization.denormalize(values[k:k + self.n_optical], optical_stats)
                self.writers["cloud-free"].write(y, np.where(valid, cloudfree, NODATA_FLOAT))
                k += self.n_optical
            if self.wants_reliability:
                self.writers["reliability"].write(y, np.where(valid, np.clip(values[k:k + 1], 0, 1), NODATA_FLOAT))

    def commit(self):
        """Overviews, then every file renamed to its final name, then the ``.qml`` style next to the land cover."""
        with reported_as_input_error("Writing the output", WRITE_HINT):
            for writer in self.writers.values():
                writer.finish()
            for writer in self.writers.values():
                writer.commit()
            self.writers = {}
            write_qml(self.paths["land cover"].with_suffix(".qml"), self.meta)

    def discard(self):
        """Remove whatever was not committed (after an error or a cancel)."""
        for writer in self.writers.values():
            writer.discard()
        self.writers = {}


def describe_classes(gdal, band, meta):
    """Colour table, category names and description of the land-cover band: the style inside the file."""
    table = gdal.ColorTable()
    for value, rgb in enumerate(class_colors_rgb(meta)):
        table.SetColorEntry(value, (*rgb, 255))
    table.SetColorEntry(NODATA_CLASS, (0, 0, 0, 0))
    band.SetColorTable(table)
    band.SetCategoryNames([c["name"] for c in meta["classes"]])  # the classes only: 255 is the declared nodata
    band.SetDescription("land cover")


def argmax_max(probs):
    """Index (uint8) and value of the largest of ``probs`` (C, H, W) along C, the first one on ties.  One pass per
    class: several times faster than ``ndarray.argmax(0)``, which walks the first axis with a stride of H x W."""
    best = probs[0].copy()
    index = np.zeros(best.shape, np.uint8)
    for k in range(1, probs.shape[0]):
        index[probs[k] > best] = k
        np.maximum(best, probs[k], out=best)
    return index, best


def write_qml(path, meta):
    """A QGIS paletted-renderer style (``.qml``) with one legend entry per class."""
    root = ET.Element("qgis", version="3.22.0", styleCategories="AllStyleCategories")
    pipe = ET.SubElement(root, "pipe")
    renderer = ET.SubElement(pipe, "rasterrenderer", type="paletted", band="1", opacity="1", alphaBand="-1",
                             nodataColor="")
    ET.SubElement(renderer, "rasterTransparency")
    palette = ET.SubElement(renderer, "colorPalette")
    for cls in meta["classes"]:
        ET.SubElement(palette, "paletteEntry", value=str(cls["value"]), color=cls["color"].lower(), alpha="255",
                      label=cls["name"])
    ET.SubElement(pipe, "brightnesscontrast", brightness="0", contrast="0", gamma="1")
    ET.SubElement(pipe, "huesaturation", saturation="0", grayscaleMode="0", colorizeOn="0")
    ET.SubElement(pipe, "rasterresampler", maxOversampling="2")
    ET.SubElement(root, "blendMode").text = "0"
    ET.indent(root)
    text = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + ET.tostring(root, encoding="unicode")
    Path(path).write_text(text + "\n", encoding="utf-8")
