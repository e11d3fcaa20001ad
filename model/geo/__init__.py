"""GDAL access for inference and training (imports GDAL only when a function needs it).

- ``rasters``: open a raster, choose and check its bands.
- ``grid``: the output grid (optical grid cropped to the extent and the SAR footprint), footprints.
- ``warp``: one raster onto another's grid, with one resampling rule for inference and training.
- ``readers``: band windows with validity masks, warped windows, the row cache of tiled inference.
- ``sampling``: the sample the normalisation statistics come from.
- ``pair``: the optical + SAR inputs of one run on the output grid.
"""
