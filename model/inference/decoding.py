"""What the input values mean, decided once per run before any statistics: undeclared fill values become nodata
(with a warning that names the value and its share), a band without signal is an error, and the SAR is converted to
the units the weights expect (with a log line that says what was assumed and why).  See model/geo/fill.py and
model/geo/units.py for the rules."""

from dataclasses import replace


from ..errors import EDCInputError
from ..geo.fill import fill_values, joint_fill_value, usable
from ..geo.readers import Decoding
from ..geo.units import AUTO, DB_FACTOR, POWER, intensity_dataset, sar_units

MIN_SIGNAL_PIXELS = 256  # a band constant over at least this many valid pixels has no signal


def decode_inputs(pair, units_choice, log):
    """``pair`` (:class:`InputPair`) with its decodings set (and a complex SAR replaced by its intensities)."""
    descriptions = [pair.sar.GetRasterBand(b).GetDescription() for b in pair.sar_bands]
    pair, complex_values = with_intensities(pair)
    opt, opt_valid, sar, sar_valid = pair.whole_overlap().raw_samples()
    opt_fill = joint_fill_value(opt, opt_valid)
    _check_signal("optical", pair.optical_bands, opt, opt_valid, [opt_fill] * len(pair.optical_bands))
    if opt_fill is not None:
        log(_fill_warning("every band of the optical raster", *opt_fill))
    sar_fill = _fills("SAR", pair.sar_bands, sar, sar_valid, log=log)
    # the weights expect decibels (WEIGHTS_SAR_UNITS: metadata validation refuses anything else)
    units, why = sar_units(descriptions, sar, _without(sar, sar_valid, sar_fill), units_choice, complex_values)
    factor = DB_FACTOR.get(units)
    log(f"SAR units: {units} ({why})" + (f"; converted to decibels ({factor:g} log10), as the weights expect."
                                         if factor else "; used as they are."))
    if units_choice == AUTO and units == POWER:
        log("WARNING: the SAR was taken for linear backscatter and converted to decibels; if it already is in "
            "decibels, set 'SAR units' (SAR_UNITS) to dB.")
    return replace(pair, optical_decoding=Decoding(joint_fill=None if opt_fill is None else opt_fill[0]),
                   sar_decoding=Decoding(fill=tuple(sar_fill), db_factor=factor))


def with_intensities(pair):
    """(``pair`` with a complex SAR replaced by its intensities, whether it was complex)."""
    if not _is_complex(pair.sar, pair.sar_bands):
        return pair, False
    return replace(pair, sar=intensity_dataset(pair.sar, pair.sar_bands),
                   sar_bands=list(range(1, len(pair.sar_bands) + 1))), True


def _is_complex(ds, bands):
    return any(ds.GetRasterBand(b).DataType in _complex_types() for b in bands)


def _complex_types():
    from osgeo import gdal
    return {gdal.GDT_CInt16, gdal.GDT_CInt32, gdal.GDT_CFloat32, gdal.GDT_CFloat64}


def _fills(label, bands, sample, valid, log):
    """Per band: the fill value to treat as nodata (or None), each one warned about; EDCInputError for a band with
    no signal left."""
    found = fill_values(sample, valid, any_value=True)
    for band, hit in zip(bands, found):
        if hit is not None:
            log(_fill_warning(f"the {label} raster's band {band}", *hit))
    _check_signal(label, bands, sample, valid, found)
    return [None if hit is None else hit[0] for hit in found]


def _fill_warning(where, value, share):
    return (f"WARNING: {where} holds the value {value:g} on {100 * share:.1f} % of its pixels, in areas, and the file "
            "declares no nodata: treated as nodata (missing data). If it is a real value, declare another nodata "
            "value in the file.")


def _check_signal(label, bands, sample, valid, found):
    """EDCInputError for a band that is constant once its fill value (``found``: (value, share) or None per band) is
    left out; a raster of a few pixels may well be constant, and one all nodata gets input_statistics' message."""
    for k, (band, hit) in enumerate(zip(bands, found)):
        left = valid if hit is None else valid & (sample[k] != hit[0])
        if valid.sum() >= MIN_SIGNAL_PIXELS and not usable(sample[k], left):
            article = "an" if label[0] in "aeiou" else "a"
            raise EDCInputError(f"The {label} raster's band {band} has no usable signal: "
                                f"{_no_signal(sample[k], valid, hit)}; choose {article} {label} raster with data "
                                "there, or other bands.")


def _no_signal(band, valid, hit):
    """What a band without signal holds, in words."""
    values = band[valid]
    if hit is not None and bool((values == hit[0]).all()):
        return f"all its pixels hold {hit[0]:g}, a fill value"
    return f"all its valid pixels hold the same value ({values.flat[0]:g})"


def _without(sample, valid, fills):
    """``valid`` without the pixels where a band holds its fill value."""
    for k, value in enumerate(fills):
        if value is not None:
            valid = valid & (sample[k] != value)
    return valid
