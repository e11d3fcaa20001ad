"""``segment()``: land cover from an optical + SAR raster pair, tile by tile, on the optical raster's grid.

Called by the QGIS algorithm ``edc:segment`` and usable without QGIS.  Raises EDCError subclasses only.
"""

import os
import tempfile
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import normalization
from .errors import EDCCancelled, EDCError, EDCInputError
from .metadata import MAX_TILE, class_colors_rgb
from .raster_io import (BandReader, Grid, RowCache, WarpedReader, gdal_modules, open_raster, output_grid,
                        select_bands, warped_vrt)
from .tiling import TileGrid, run_tiled

NODATA_CLASS = 255
NODATA_FLOAT = -9999.0
STATS_SIZE = 1024  # a scene up to this many pixels a side gives its statistics from all its pixels
STATS_WINDOW, STATS_WINDOWS = 256, 4  # a larger one from 4 x 4 windows of 256 pixels spread over it,
STATS_STEP = 2  # every other pixel of them (262144 pixels in all, as many as 8 strips of the whole-scene read)
STATS_ROWS = 32  # rows per strip of a whole-scene read
MIN_TILE = 32
BLOCK = 256  # output GeoTIFF block size
MAX_BATCH = 256


@dataclass
class SegmentResult:
    output_path: str
    confidence_path: str = None
    cloudfree_path: str = None
    reliability_path: str = None
    class_stats: list = field(default_factory=list)
    device: str = ""
    width: int = 0
    height: int = 0
    geotransform: tuple = ()
    crs_wkt: str = ""
    trained: bool = False
    tile_size: int = 0
    overlap: int = 0
    batch_size: int = 0
    seconds: float = 0.0


def _quiet(*_args):
    return None


def check_output_path(path, label):
    """The output path as a Path; EDCInputError when its folder is missing or not writable."""
    if not path:
        raise EDCInputError(f"No file name was given for the {label} output; choose a .tif file.")
    path = Path(str(path)).expanduser().absolute()
    folder = path.parent
    if not folder.is_dir():
        raise EDCInputError(f"The folder of the {label} output '{path}' does not exist; create it or choose "
                            "another folder.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise EDCInputError(f"The folder of the {label} output '{path}' is not writable; choose a folder you can "
                            "write to.")
    if path.is_dir():
        raise EDCInputError(f"The {label} output '{path}' is a folder; choose a file name ending in .tif.")
    return path


def _check_tiling(tile_size, overlap, batch_size, meta):
    tile = meta["tile_size"] if tile_size is None else tile_size
    ovl = meta["overlap"] if overlap is None else overlap
    if not isinstance(tile, (int, np.integer)) or not MIN_TILE <= tile <= MAX_TILE:
        raise EDCInputError(f"Tile size {tile} is out of range; choose a tile size between {MIN_TILE} and "
                            f"{MAX_TILE} pixels (the weights suggest {meta['tile_size']}).")
    if not isinstance(ovl, (int, np.integer)) or not 0 <= ovl <= tile // 2:
        raise EDCInputError(f"Tile overlap {ovl} is out of range; choose an overlap between 0 and half the tile size "
                            f"({tile // 2} pixels).")
    if not isinstance(batch_size, (int, np.integer)) or not 1 <= batch_size <= MAX_BATCH:
        raise EDCInputError(f"Batch size {batch_size} is out of range; choose between 1 and {MAX_BATCH}.")
    return int(tile), int(ovl), int(batch_size)


def _strip_read(reader, grid, small, datasets, strips):
    """``reader``'s window ``grid`` resampled to ``small``'s size, only the output row ranges ``strips`` (stacked);
    GDAL's cached blocks are dropped after each strip, so that a read over a large scene does not fill GDAL's cache."""
    parts = []
    for i, j in strips:
        y0, y1 = round(i * grid.height / small.height), round(j * grid.height / small.height)
        parts.append(reader.read(y0, y1 - y0, grid.width, out_shape=(j - i, small.width)))
        for ds in datasets:
            ds.FlushCache()
    return np.concatenate([p[0] for p in parts], axis=1), np.concatenate([p[1] for p in parts], axis=0)


def _window_starts(length, size, count, block, offset):
    """``count`` starts of windows of ``size`` spread evenly over ``length``, each moved back onto a boundary of the
    file's ``block`` grid (the window's pixels then come from as few compressed blocks as possible)."""
    starts = set()
    for k in range(count):
        start = round(k * (length - size) / max(count - 1, 1))
        snapped = (offset + start) // block * block - offset
        starts.add(min(max(snapped if snapped >= 0 else start, 0), length - size))
    return sorted(starts)


def _stats_windows(optical, opt_bands, offset, sar, sar_bands, grid):
    """Reads of STATS_WINDOWS x STATS_WINDOWS windows of STATS_WINDOW pixels spread over a large scene (every
    STATS_STEP-th pixel), side by side: (C, h, w * n) and the valid mask for each input.  Aligned on the optical
    file's blocks, they decode a small share of the scene (1/16 of a 4096 x 4096 one), which strips across the
    whole width cannot."""
    size_y, size_x = min(STATS_WINDOW, grid.height), min(STATS_WINDOW, grid.width)
    block_x, block_y = optical.GetRasterBand(opt_bands[0]).GetBlockSize()
    ys = _window_starts(grid.height, size_y, STATS_WINDOWS, block_y, offset[1])
    xs = _window_starts(grid.width, size_x, STATS_WINDOWS, block_x, offset[0])
    opt_reader = BandReader(optical, opt_bands, offset)
    vrt = warped_vrt(sar, sar_bands, grid)
    sar_reader = BandReader(vrt, range(1, len(sar_bands) + 1), alpha=len(sar_bands) + 1)
    shape = (-(-size_y // STATS_STEP), -(-size_x // STATS_STEP))  # every STATS_STEP-th pixel of a window
    parts = [(opt_reader.read(y, size_y, size_x, x=x, out_shape=shape),
              sar_reader.read(y, size_y, size_x, x=x, out_shape=shape)) for y in ys for x in xs]
    for ds in (optical, vrt, vrt._edc_source, sar):
        ds.FlushCache()
    opt_parts, sar_parts = zip(*parts)
    return (np.concatenate([p[0] for p in opt_parts], axis=-1), np.concatenate([p[1] for p in opt_parts], axis=-1),
            np.concatenate([p[0] for p in sar_parts], axis=-1), np.concatenate([p[1] for p in sar_parts], axis=-1))


def _stats_inputs(optical, opt_bands, offset, sar, sar_bands, grid):
    """Samples of both inputs for the normalisation statistics, so that their cost does not grow with the scene.

    A scene of at most STATS_SIZE pixels a side is read whole.  A larger one: windows spread over it at full
    resolution (``_stats_windows``); when those hold no pixel valid in both inputs, a decimated read of the whole
    scene (at most STATS_SIZE pixels a side, in strips, GDAL's cache dropped after each)."""
    scale = max(grid.width, grid.height) / STATS_SIZE
    if scale > 1:
        opt, opt_valid, sar_arr, sar_valid = _stats_windows(optical, opt_bands, offset, sar, sar_bands, grid)
        if (opt_valid & sar_valid).any():
            return opt, opt_valid, sar_arr, sar_valid
        w, h = max(1, round(grid.width / scale)), max(1, round(grid.height / scale))
        gt = grid.geotransform
        small = Grid((gt[0], gt[1] * grid.width / w, 0.0, gt[3], 0.0, gt[5] * grid.height / h), grid.wkt, w, h)
    else:
        small = grid
    strips = [(i, min(i + STATS_ROWS, small.height)) for i in range(0, small.height, STATS_ROWS)]
    opt_reader = BandReader(optical, opt_bands, offset)
    vrt = warped_vrt(sar, sar_bands, small)
    sar_reader = BandReader(vrt, range(1, len(sar_bands) + 1), alpha=len(sar_bands) + 1)
    opt, opt_valid = _strip_read(opt_reader, grid, small, (optical,), strips)
    sar_arr, sar_valid = _strip_read(sar_reader, small, small, (vrt, vrt._edc_source, sar), strips)
    return opt, opt_valid, sar_arr, sar_valid


def _class_table(gdal, meta):
    table = gdal.ColorTable()
    for value, rgb in enumerate(class_colors_rgb(meta)):
        table.SetColorEntry(value, (*rgb, 255))
    table.SetColorEntry(NODATA_CLASS, (0, 0, 0, 0))
    return table


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


class _Output:
    """One output GeoTIFF written under a temporary name in its target folder and renamed when complete."""

    def __init__(self, gdal, final, grid, bands, dtype, nodata, resampling):
        self.final, self.resampling = Path(final), resampling
        fd, tmp = tempfile.mkstemp(prefix=f".{self.final.stem}.", suffix=".part.tif", dir=self.final.parent)
        os.close(fd)
        self.tmp = Path(tmp)
        self.ds = gdal.GetDriverByName("GTiff").Create(
            str(self.tmp), grid.width, grid.height, bands, dtype,
            ["TILED=YES", "COMPRESS=DEFLATE", "BIGTIFF=IF_SAFER", f"BLOCKXSIZE={BLOCK}", f"BLOCKYSIZE={BLOCK}"])
        self.ds.SetGeoTransform(grid.geotransform)
        if grid.wkt:
            self.ds.SetProjection(grid.wkt)
        for b in range(bands):
            self.ds.GetRasterBand(b + 1).SetNoDataValue(nodata)
        self.pending, self.pending_y = [], 0

    def write(self, y, array):
        """Queue rows ``y ..`` (rows arrive in order); whole rows of 256-pixel blocks go to the file at once and
        leave GDAL's cache, so memory does not grow with the scene height."""
        self.pending.append(array)
        end = y + array.shape[1]
        self._flush(end if end == self.ds.RasterYSize else end // BLOCK * BLOCK)

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


def segment(optical_path, sar_path, weights_path, output_path, *, optical_bands=None, sar_bands=None, extent=None,
            tile_size=None, overlap=None, device="auto", batch_size=4, confidence_path=None, cloudfree_path=None,
            reliability_path=None, progress=None, is_cancelled=None, log=None):
    """Map land cover from ``optical_path`` + ``sar_path`` with ``weights_path`` into ``output_path`` (GeoTIFF).

    See the module contract: output on the optical grid (cropped to ``extent`` and to the SAR footprint), nodata
    (255) wherever an input is nodata, optional confidence / cloud-free / reliability rasters, per-class statistics.
    """
    from .runtime import load_predictor
    from .weights import read_metadata

    started = time.time()
    log = log or _quiet
    outputs = {"land cover": output_path, "confidence": confidence_path, "cloud-free": cloudfree_path,
               "reliability": reliability_path}
    paths = {k: check_output_path(v, k) for k, v in outputs.items() if v or k == "land cover"}
    if len(set(paths.values())) != len(paths):
        raise EDCInputError("Two outputs have the same file name; give each output its own .tif file.")

    meta = read_metadata(weights_path)
    tile, ovl, batch_size = _check_tiling(tile_size, overlap, batch_size, meta)
    optical = open_raster(optical_path, "optical")
    sar = open_raster(sar_path, "SAR")
    names = {s: meta["inputs"][s]["bands"] for s in ("optical", "sar")}
    opt_bands = select_bands(optical, optical_bands or meta["inputs"]["optical"]["default_bands"], names["optical"],
                             "optical")
    sar_bands = select_bands(sar, sar_bands or meta["inputs"]["sar"]["default_bands"], names["sar"], "SAR")
    for ds, bands, stream, label in ((optical, opt_bands, "optical", "Optical"), (sar, sar_bands, "sar", "SAR")):
        for b, name in zip(bands, names[stream]):
            described = ds.GetRasterBand(b).GetDescription().strip()
            if described and described.lower() != name.lower():
                log(f"WARNING: {label} band {b} is described as '{described}' but the weights expect '{name}' there; "
                    "check the band selection.")
    grid, offset = output_grid(optical, sar, extent)

    with _failure("Reading the input rasters", "check that both files are complete and readable"):
        opt_small, opt_valid, sar_small, sar_valid = _stats_inputs(optical, opt_bands, offset, sar, sar_bands, grid)
    if not opt_valid.any():
        raise EDCInputError("The optical raster has no valid pixel in the processed area (all nodata); choose another "
                            "optical raster, other bands or another extent.")
    if not sar_valid.any():
        raise EDCInputError("The SAR raster has no valid pixel in the processed area (all nodata, NaN or outside its "
                            "coverage); choose another SAR raster or extent.")
    both = opt_valid & sar_valid
    if not both.any():
        raise EDCInputError("The optical and SAR rasters have no valid pixel in common; choose rasters that cover the "
                            "same area with data.")
    specs = meta["normalization"]
    opt_stats = normalization.compute_stats(opt_small, both, specs["optical"])
    sar_stats = normalization.compute_stats(sar_small, both, specs["sar"])
    del opt_small, sar_small

    predictor = load_predictor(weights_path, device=device, batch_size=batch_size, log=log)
    gdal, _ = gdal_modules()
    n_classes, n_opt = len(meta["classes"]), len(opt_bands)
    log(f"Output grid: {grid.width} x {grid.height} pixels; tiles of {min(tile, grid.height)} x "
        f"{min(tile, grid.width)} with {ovl} px overlap, batches of {batch_size}.")

    sar_warp = WarpedReader(sar, sar_bands, grid)
    chunk_rows = RowCache.chunk_rows
    # the rows in the bands' own types (UInt16 optical: half the memory), normalised tile by tile
    opt_rows = RowCache(BandReader(optical, opt_bands, offset, native=True), grid.width, grid.height,
                        chunk_rows(optical.GetRasterBand(opt_bands[0]).GetBlockSize()[1]), align=offset[1],
                        datasets=(optical,))
    sar_rows = RowCache(sar_warp, grid.width, grid.height, 256, datasets=sar_warp.datasets)
    tiles = TileGrid(grid.height, grid.width, tile, ovl)

    def read_sar(y, x, h, w):
        with _failure("Reading (reprojecting) the SAR raster", "check that the file is complete and readable"):
            return sar_rows.read(y, h, x, w)

    def read_window(y, x, h, w):
        # the SAR window is read (and warped) in a second thread while this one reads (and decodes) the optical one;
        # GDAL and numpy release the GIL, and each dataset is used by one thread only
        sar_job = sar_thread.submit(read_sar, y, x, h, w)
        try:
            with _failure("Reading the optical raster", "check that the file is complete and readable"):
                opt, ov = opt_rows.read(y, h, x, w)
        finally:
            sr, sv = sar_job.result()
        valid = ov & sv
        opt, sr = _normalized(opt, opt_stats, valid), _normalized(sr, sar_stats, valid)
        return (opt, sr), valid

    want_cloudfree, want_rel = cloudfree_path is not None, reliability_path is not None

    def predict(batch):
        with _failure(f"The model ({predictor.device}) failed on a batch of tiles",
                      "try a smaller tile size or batch size, or the CPU device", (RuntimeError, ValueError)):
            out = predictor.predict(*batch)
        parts = [out["probabilities"]]
        if want_cloudfree:
            parts.append(out["cloudfree"])
        if want_rel:
            parts.append(out["reliability"])
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)

    created = []
    counts = np.zeros(n_classes, np.int64)
    extra = {}
    sar_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="edc-sar-reader")
    try:
        with _failure("Creating the output", WRITE_HINT):
            land = _Output(gdal, paths["land cover"], grid, 1, gdal.GDT_Byte, NODATA_CLASS, "NEAREST")
            created.append(land)
            band = land.ds.GetRasterBand(1)
            band.SetColorTable(_class_table(gdal, meta))
            band.SetCategoryNames([c["name"] for c in meta["classes"]] + [""] * (NODATA_CLASS - n_classes) +
                                  ["nodata"])
            band.SetDescription("land cover")
            for key, bands in (("confidence", 1), ("cloud-free", n_opt), ("reliability", 1)):
                if key in paths:
                    extra[key] = _Output(gdal, paths[key], grid, bands, gdal.GDT_Float32, NODATA_FLOAT, "AVERAGE")
                    created.append(extra[key])
            for b, name in enumerate(names["optical"] if "cloud-free" in extra else []):
                extra["cloud-free"].ds.GetRasterBand(b + 1).SetDescription(name)

        def write_rows(y, values, valid):
            with _failure("Writing the output", WRITE_HINT):
                _write_rows(y, values, valid)

        def _write_rows(y, values, valid):
            classes, confidence = argmax_max(values[:n_classes])
            classes[~valid] = NODATA_CLASS
            counts[:] += np.bincount(classes.ravel(), minlength=NODATA_CLASS + 1)[:n_classes]
            land.write(y, classes[None])
            if "confidence" in extra:
                extra["confidence"].write(y, np.where(valid, confidence, NODATA_FLOAT)[None])
            k = n_classes
            if want_cloudfree:
                cf = normalization.denormalize(values[k:k + n_opt], opt_stats)
                extra["cloud-free"].write(y, np.where(valid, cf, NODATA_FLOAT))
                k += n_opt
            if want_rel:
                extra["reliability"].write(y, np.where(valid, np.clip(values[k:k + 1], 0, 1), NODATA_FLOAT))

        channels = n_classes + (n_opt if want_cloudfree else 0) + (1 if want_rel else 0)
        report = progress or _quiet
        run_tiled(tiles, channels, read_window, predict, write_rows, batch_size=batch_size,
                  progress=lambda pct: report(min(95.0, 0.95 * pct)), is_cancelled=is_cancelled,
                  prefetch=getattr(predictor, "on_gpu", False))  # on the CPU: read between the passes
        if is_cancelled is not None and is_cancelled():
            raise EDCCancelled("Cancelled by the user; no output was written.")
        with _failure("Writing the output", WRITE_HINT):
            for out in created:
                out.finish()
            for out in created:
                out.commit()
            created = []
            write_qml(paths["land cover"].with_suffix(".qml"), meta)
        report(100.0)
    except MemoryError:
        raise EDCInputError("Not enough memory for this tile size and batch size; reduce the tile size or the batch "
                            "size.") from None
    finally:
        sar_thread.shutdown(wait=True)
        for out in created:
            out.discard()

    area = grid.pixel_area
    class_stats = [{"value": c["value"], "name": c["name"], "pixels": int(counts[c["value"]]),
                    "area": float(counts[c["value"]] * area)} for c in meta["classes"]]
    return SegmentResult(
        output_path=str(paths["land cover"]), confidence_path=_str(paths.get("confidence")),
        cloudfree_path=_str(paths.get("cloud-free")), reliability_path=_str(paths.get("reliability")),
        class_stats=class_stats, device=predictor.device, width=grid.width, height=grid.height,
        geotransform=tuple(grid.geotransform), crs_wkt=grid.wkt, trained=meta["trained"], tile_size=tile,
        overlap=ovl, batch_size=batch_size, seconds=time.time() - started)


def _normalized(window, stats, valid):
    """A float32 copy of ``window`` (C, h, w) normalised with ``stats``, 0 where not ``valid`` or not finite."""
    out = normalization.normalize(window, stats)  # a float32 copy
    if not valid.all():
        out[:, ~valid] = 0.0
    # a floating-point input may overflow float32 when scaled (NaN/inf inputs are invalid, already 0)
    if window.dtype.kind == "f" and not np.isfinite(out).all():
        np.nan_to_num(out, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    return out


def argmax_max(probs):
    """Index (uint8) and value of the largest of ``probs`` (C, H, W) along C, the first one on ties.  One pass per
    class: several times faster than ``ndarray.argmax(0)``, which walks the first axis with a stride of H x W."""
    best = probs[0].copy()
    index = np.zeros(best.shape, np.uint8)
    for k in range(1, probs.shape[0]):
        index[probs[k] > best] = k
        np.maximum(best, probs[k], out=best)
    return index, best


WRITE_HINT = "check that the output folder has free space and is writable, then run again"


@contextmanager
def _failure(what, hint, kinds=(RuntimeError, OSError)):
    """Turn GDAL / OS / runtime errors into an EDCError that says what failed and what to do."""
    try:
        yield
    except EDCError:
        raise
    except kinds as exc:
        detail = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise EDCInputError(f"{what} failed ({detail}); {hint}.") from exc


def _str(path):
    return None if path is None else str(path)
