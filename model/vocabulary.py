"""Names and limits shared by the whole core, in one place.  Imports nothing: the QGIS layer, the training CLI and
the metadata validation read them without loading torch or GDAL."""

# Networks (``architecture`` in the weights metadata) and the size presets of model/network/config.py.
ARCHITECTURES = ("edc", "dense_tristream", "optical_only", "sar_only", "early_concat")
PRESET_NAMES = ("tiny", "small", "base")
EDC_VERSIONS = (1, 2, 3)  # EDC network versions this plugin builds (model/network/config.py)
SAR_WIDTH_RANGE = (0.05, 2.0)  # SAR stream width / optical stream width (training CLI, edc:train)

# Units of SAR backscatter (SAR_UNITS): "auto" tells them from the data (model/geo/units.py).
SAR_UNITS = ("auto", "dB", "linear power", "amplitude")
WEIGHTS_SAR_UNITS = ("dB",)  # the SAR units weights may be trained on (inputs.sar.units in their metadata)

# The grid the network runs on (model/geo/resolution.py) and the grid the map is written on.
RESOLUTIONS = ("weights", "native")   # the weights' ground sampling distance, or the optical pixels as they are
OUTPUT_GRIDS = ("optical", "model")   # the optical raster's grid, or the grid the network ran on
DEFAULT_GSD_M = 10.0                  # weights that do not record their ground sampling distance: Sentinel-2's

# Where the network runs.
DEVICES = ("auto", "cpu", "cuda")

# Training dataset layouts (model/datasets/).
DATASET_KINDS = ("ombria", "m3m_cr", "whu_opt_sar", "generic")
IGNORE_LABEL = 255  # label value that carries no class

# Weights files.
DEFAULT_WEIGHTS_FILE = "edc_default.onnx"  # in resources/: what every entry point maps with when given no weights
WEIGHTS_SUFFIXES = (".pt", ".pth", ".onnx")  # matched case-insensitively; .pth is PyTorch like .pt
NORMALIZATION_METHODS = ("percentile", "fixed")
MAX_CLASSES = 254   # class values 0..253: 255 is the output nodata value
MAX_BANDS = 64
MAX_METADATA_JSON = 1 << 20  # characters of metadata JSON
ONNX_INPUTS = ("optical", "sar")                             # the inputs of an exported network
MODEL_OUTPUTS = ("probabilities", "cloudfree", "reliability")  # its outputs; the last two only where asked for

# Band names a raster's band description may carry (lower case): a description naming one of these but not the band
# the weights expect there is warned about; any other description ("Height", "Band 1") is not.  Aliases: the same
# band under a colour or Sentinel-2 name.
KNOWN_BANDS = (tuple(f"b{i}" for i in range(1, 13)) + ("b8a", "vv", "vh", "hh", "hv", "red", "green", "blue", "nir",
               "swir", "swir1", "swir2", "rededge", "coastal", "cirrus", "thermal", "tir", "pan", "panchromatic"))
BAND_ALIASES = ({"b2", "blue"}, {"b3", "green"}, {"b4", "red"}, {"b8", "b8a", "nir"}, {"b11", "swir1", "swir"},
                {"b12", "swir2", "swir"}, {"b10", "cirrus"}, {"b1", "coastal"}, {"b5", "b6", "b7", "rededge"})

# Tiled inference.
MIN_TILE, MAX_TILE = 32, 4096
MAX_BATCH = 256
CPU_BATCH = 4      # tiles per batch on the CPU (BATCH_SIZE 0 = automatic)
GPU_BATCH = 8      # tiles per batch on a GPU (halved on out-of-memory)
ONNX_CPU_BATCH = 1  # tiles per ONNX Runtime pass on the CPU, whose session is built for this fixed batch size
CPU_INT8 = True     # ONNX weights on the CPU: int8 matrix products made at load (model/weights/onnx_int8.py)
SESSION_CACHE_FILES = 8  # optimised graphs kept in the user's cache (model/inference/session_cache.py)
DEFAULT_BLOCK = 4096  # segment_many's block side in model pixels: 4 blocks for 8192 x 8192; halo 1.25x the tiles
EXTENT_CONTEXT = 32   # model pixels read around a processing extent (clipped to the inputs): the context its edges get

# Outputs.
NODATA_CLASS = 255       # land-cover GeoTIFF (Byte)
NODATA_FLOAT = -9999.0   # confidence, cloud-free and reliability GeoTIFFs (Float32)
OUTPUT_BLOCK = 256       # output GeoTIFF block side

# The plugin's menu action that installs ONNX Runtime / PyTorch into QGIS's Python (python_deps/), named by the
# messages of model/dependencies.py.
INSTALL_ACTION = "Install Python dependencies…"
INSTALL_ACTION_PATH = f"Raster > EDC > {INSTALL_ACTION}"
