"""From the input rasters to normalised tiles: opening and checking the inputs, the normalisation statistics of the
whole scene, and the reader that hands ``run_tiled`` one normalised window after another."""

from concurrent.futures import ThreadPoolExecutor

from .. import normalization
from ..errors import EDCInputError, reported_as_input_error
from ..geo.grid import output_grid
from ..geo.pair import InputPair
from ..geo.rasters import band_name_warnings, open_raster, select_bands

READ_HINT = "check that the file is complete and readable"
MIN_STATS_PIXELS = 4096  # pixels valid in both inputs below which the statistics are unstable


def open_inputs(options, meta, log):
    """The :class:`InputPair` of a run: both rasters opened, their bands chosen and checked against the weights
    (a warning where a band's description differs from the name the weights expect), and the output grid."""
    optical = open_raster(options.optical, "optical")
    sar = open_raster(options.sar, "SAR")
    inputs = meta["inputs"]
    opt_bands = select_bands(optical, options.optical_bands or inputs["optical"]["default_bands"],
                             inputs["optical"]["bands"], "optical")
    sar_bands = select_bands(sar, options.sar_bands or inputs["sar"]["default_bands"], inputs["sar"]["bands"], "SAR")
    for warning in (band_name_warnings(optical, opt_bands, inputs["optical"]["bands"], "Optical") +
                    band_name_warnings(sar, sar_bands, inputs["sar"]["bands"], "SAR")):
        log(warning)
    grid, offset = output_grid(optical, sar, options.extent)
    return InputPair(optical, opt_bands, sar, sar_bands, grid, offset)


def input_statistics(pair, meta, log):
    """(optical stats, SAR stats) for :func:`normalization.normalize`, from a sample of the inputs' whole overlap
    (never of the processing extent alone: a pixel gets the same input values whatever extent is drawn) restricted to
    the pixels valid in both; EDCInputError when an input has no valid pixel there, a warning when too few are valid for
    stable statistics."""
    with reported_as_input_error("Reading the input rasters", "check that both files are complete and readable"):
        opt, opt_valid, sar, sar_valid = pair.whole_overlap().statistics_sample()
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
    if both.sum() < MIN_STATS_PIXELS:
        log(f"WARNING: the optical and SAR rasters overlap with data on only {int(both.sum())} pixels: too few for "
            "stable normalisation statistics, so the map may depend on which pixels these are. Use inputs that "
            f"cover more of the area (at least {MIN_STATS_PIXELS} pixels, e.g. 64 x 64).")
    specs = meta["normalization"]
    return (normalization.compute_stats(opt, both, specs["optical"]),
            normalization.compute_stats(sar, both, specs["sar"]))


class TileReader:
    """``read(y, x, h, w)`` -> ((optical, SAR) normalised float32 windows, valid mask), for ``run_tiled``.

    The SAR window is read (and warped) in a second thread while the calling thread reads (and decodes) the optical
    one; GDAL and numpy release the GIL, and each dataset is used by one thread only.  Use it as a context manager:
    leaving it stops that thread."""

    def __init__(self, pair, optical_stats, sar_stats):
        self.optical_rows, self.sar_rows = pair.row_readers()
        self.optical_stats, self.sar_stats = optical_stats, sar_stats
        self.sar_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="edc-sar-reader")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.sar_thread.shutdown(wait=True)
        return False

    def _read_sar(self, y, x, h, w):
        with reported_as_input_error("Reading (reprojecting) the SAR raster", READ_HINT):
            return self.sar_rows.read(y, h, x, w)

    def read(self, y, x, h, w):
        sar_job = self.sar_thread.submit(self._read_sar, y, x, h, w)
        try:
            with reported_as_input_error("Reading the optical raster", READ_HINT):
                opt, opt_valid = self.optical_rows.read(y, h, x, w)
        finally:
            sar, sar_valid = sar_job.result()
        valid = opt_valid & sar_valid
        return (normalization.normalize_valid(opt, self.optical_stats, valid),
                normalization.normalize_valid(sar, self.sar_stats, valid)), valid
