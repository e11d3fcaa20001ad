"""Outputs that must not hurt: an output that is an input is refused, and temporary files a killed run left for more
than a day are swept by the next run (a SIGTERM mid-run: tests/integration/cli/test_segment_killed.py)."""

import os
import time
from pathlib import Path

import pytest

from model.errors import EDCInputError
from model.inference import SegmentOptions
from model.inference.writers import sweep_stale_parts

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.real_data
@pytest.mark.parametrize("which", ["optical", "sar", "weights", "symlink", "confidence"])
def test_output_that_is_an_input_is_refused(which, shared_data, tiny_weights, tmp_path):
    optical = shared_data / "sen12ms_cr" / "s2_cloudy" / "ROIs2017_winter_112_p797.tif"
    sar = shared_data / "sen12ms_cr" / "s1" / "ROIs2017_winter_112_p797.tif"
    link = tmp_path / "link.tif"
    link.symlink_to(optical)
    target = {"optical": optical, "sar": sar, "weights": tiny_weights, "symlink": link, "confidence": sar}[which]
    kw = {"confidence": str(target)} if which == "confidence" else {}
    output = tmp_path / "lc.tif" if which == "confidence" else target
    options = SegmentOptions(str(optical), str(sar), str(tiny_weights), str(output), **kw)
    with pytest.raises(EDCInputError, match="writing it would replace the input; choose another file name"):
        options.output_paths()


def test_stale_temporary_files_are_swept(tmp_path):
    final = tmp_path / "lc.tif"
    old = time.time() - 2 * 24 * 3600
    stale = [tmp_path / ".lc.ab12cd_9.part.tif", tmp_path / ".lc.ab12cd_9.part.tif.aux.xml",
             tmp_path / ".lc.zz99zz99.part.tif.ovr"]
    kept = [tmp_path / ".lc.fresh123.part.tif",           # a running job's (recent)
            tmp_path / ".other.ab12cd_9.part.tif",         # another output's
            tmp_path / ".lc.notours.tif", tmp_path / "lc.tif"]
    for path in stale + kept:
        path.write_bytes(b"")
        if path.name != ".lc.fresh123.part.tif":
            os.utime(path, (old, old))
    sweep_stale_parts(final)
    assert [p.exists() for p in stale] == [False] * 3
    assert all(p.exists() for p in kept)




@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_outputs_get_the_permissions_of_a_plain_new_file(umask, tiny_weights, make_pair, tmp_path):
    """The temporary file is created 0600; the finished output is readable by colleagues and map servers as any file
    the user writes (issue "In the QGIS desktop": it was -rw------- whatever the umask)."""
    from helpers.inference import run_segment
    optical, sar = make_pair(40, 40)
    previous = os.umask(umask)
    try:
        run_segment(optical, sar, tiny_weights, tmp_path / "lc.tif", tile_size=32, overlap=8,
                    confidence=tmp_path / "conf.tif")
    finally:
        os.umask(previous)
    for name in ("lc.tif", "conf.tif"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~umask, name
