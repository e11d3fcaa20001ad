"""Bad labels and class lists in a generic-layout folder built from the real M3M-CR quartet (../shared/data):
refused when the folder is opened, with a message naming the file; a class list with a byte-order mark is read;
label pixels the label raster does not cover carry no class."""

import json

import numpy as np
import pytest
from helpers.datasets import M3M_CLASSES, real_generic_folder, rewrite_raster
from helpers.rasters import read_raster

from model.datasets import IGNORE, open_dataset
from model.errors import EDCDatasetError

pytestmark = pytest.mark.real_data


def test_nan_label_nodata_is_refused_with_its_name(shared_data, tmp_path):
    root = real_generic_folder(tmp_path / "g", shared_data, n=1)
    label = read_raster(root / "label" / "s0.tif")[0].astype(np.float32)
    label[label == IGNORE] = np.nan
    label[:10] = np.nan                       # a label raster whose nodata is NaN
    rewrite_raster(root / "label" / "s0.tif", label, nodata=float("nan"))
    with pytest.raises(EDCDatasetError) as err:
        open_dataset("generic", root)
    message = str(err.value)
    assert "label" in message and "s0.tif" in message and "NaN" in message
    assert "must be 255" in message and "-9223372036854775808" not in message


def test_bad_colour_in_classes_json_is_refused_at_open(shared_data, tmp_path):
    root = real_generic_folder(tmp_path / "g", shared_data, n=1)
    classes = [{"name": c, "color": "#336699"} for c in M3M_CLASSES]
    classes[3]["color"] = "#12345"            # five digits: the weights metadata would refuse it after training
    (root / "classes.json").write_text(json.dumps(classes))
    with pytest.raises(EDCDatasetError, match=r"classes\.json': class 3 \('Urban'\) has the colour '#12345'; "
                                              r"write it as '#rrggbb'"):
        open_dataset("generic", root)


def test_classes_json_with_a_byte_order_mark_is_read(shared_data, tmp_path):
    root = real_generic_folder(tmp_path / "g", shared_data, n=1)
    text = json.dumps({"classes": [{"name": c, "color": "#1f78b4"} for c in M3M_CLASSES],
                       "sar_bands": ["VV", "VH"]})
    (root / "classes.json").write_text(text, encoding="utf-8-sig")     # as Notepad writes "UTF-8 with BOM"
    reader = open_dataset("generic", root)
    assert [c[0] for c in reader.classes] == list(M3M_CLASSES) and reader.sar_bands == ("VV", "VH")


def test_label_pixels_outside_the_label_raster_carry_no_class(shared_data, tmp_path):
    from osgeo import gdal
    root = real_generic_folder(tmp_path / "g", shared_data, n=1)
    full = open_dataset("generic", root)[0]["label"]
    path = root / "label" / "s0.tif"
    half = gdal.Translate(str(tmp_path / "half.tif"), str(path), srcWin=[0, 0, 45, 90])   # the western half
    del half                                                                               # written and closed
    path.unlink()
    (tmp_path / "half.tif").rename(path)
    label = open_dataset("generic", root)[0]["label"]
    assert (label[:, 160:] == IGNORE).all()                 # not class 0 (Forest)
    assert np.array_equal(label[:, :140], full[:, :140])
