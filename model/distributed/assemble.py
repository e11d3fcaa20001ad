"""The blocks of one large scene put together: a VRT mosaic of the block GeoTIFFs and, where asked, one
Cloud-Optimized GeoTIFF made from it by GDAL's COG driver; both carry the colour table and the class names, both
get a ``.qml`` style, both are written under a temporary name and renamed when complete."""

import os
import tempfile
from pathlib import Path

from ..errors import WRITE_HINT, reported_as_input_error
from ..geo.rasters import gdal_modules
from ..inference.writers import describe_classes, write_qml


def build_vrt(path, block_files, meta):
    """A VRT mosaic ``path`` of ``block_files`` (paths relative to the VRT's folder), styled as the blocks."""
    gdal, _ = gdal_modules()
    path = Path(path)
    tmp = _temporary(path, ".part.vrt")
    try:
        with reported_as_input_error("Writing the VRT mosaic", WRITE_HINT):
            vrt = gdal.BuildVRT(str(tmp), [str(Path(f).absolute()) for f in block_files])
            describe_classes(gdal, vrt.GetRasterBand(1), meta)
            vrt = None
            _relative_sources(tmp, path.parent)
            _publish(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    write_qml(path.with_suffix(".qml"), meta)
    return path


def build_cog(path, vrt, meta):
    """One Cloud-Optimized GeoTIFF ``path`` (DEFLATE, nearest-neighbour overviews) from the mosaic ``vrt``."""
    gdal, _ = gdal_modules()
    path = Path(path)
    tmp = _temporary(path, ".part.tif")
    try:
        with reported_as_input_error("Writing the Cloud-Optimized GeoTIFF", WRITE_HINT):
            ds = gdal.Translate(str(tmp), str(vrt), format="COG",
                                creationOptions=["COMPRESS=DEFLATE", "RESAMPLING=NEAREST", "BIGTIFF=IF_SAFER"])
            ds = None
            ds = gdal.Open(str(tmp))  # class names go beside a COG (.aux.xml), as for GTiff; its layout stays
            describe_classes(gdal, ds.GetRasterBand(1), meta)
            ds = None
            aux = Path(str(tmp) + ".aux.xml")
            if aux.exists():
                os.replace(aux, str(path) + ".aux.xml")
            _publish(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        Path(str(tmp) + ".aux.xml").unlink(missing_ok=True)
    write_qml(path.with_suffix(".qml"), meta)
    return path


def _relative_sources(vrt, folder):
    """The VRT's source files named relative to its folder: the folder can be moved or shared as a whole."""
    prefix = str(Path(folder).absolute()) + os.sep
    text = vrt.read_text(encoding="utf-8")
    text = text.replace(f'<SourceFilename relativeToVRT="0">{prefix}', '<SourceFilename relativeToVRT="1">')
    vrt.write_text(text, encoding="utf-8")


def _temporary(path, suffix):
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    os.unlink(tmp)  # GDAL creates it
    return Path(tmp)


def _publish(tmp, path):
    mask = os.umask(0o022)
    os.umask(mask)
    os.chmod(tmp, 0o666 & ~mask)
    os.replace(tmp, path)
