"""GDAL access for inference and training (imports GDAL only when a function needs it).

- ``rasters``: open a raster (GCP-only ones warped by their GCPs), choose and check its bands.
- ``grid``: the output grid (optical grid cropped to the extent and the SAR footprint), footprints.
- ``warp``: one raster onto another's grid, with one resampling rule for inference and training.
- ``readers``: band windows with validity masks and decoding (fill values, decibels), warped windows, the row cache
  of tiled inference.
- ``sampling``: the sample the normalisation statistics come from; samples of a raster's own pixels.
- ``pair``: the optical + SAR inputs of a run on a grid.
- ``fill``: undeclared fill values.  ``units``: SAR units.  ``resolution``: the grid the network runs on.
- ``areas``: true pixel areas on the ellipsoid.
"""
