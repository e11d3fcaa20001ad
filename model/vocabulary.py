"""Names and limits shared by the whole core, in one place.  Imports nothing: the QGIS layer, the training CLI and
the metadata validation read them without loading torch or GDAL."""

# Networks (``architecture`` in the weights metadata) and the size presets of model/network/config.py.
ARCHITECTURES = ("edc", "dense_tristream", "optical_only", "sar_only", "early_concat")
PRESET_NAMES = ("tiny", "small", "base")
SAR_WIDTH_RANGE = (0.05, 2.0)  # SAR stream width / optical stream width (training CLI, edc:train)

# Where the network runs.
DEVICES = ("auto", "cpu", "cuda")

# Training dataset layouts (model/datasets/).
DATASET_KINDS = ("ombria", "m3m_cr", "whu_opt_sar", "generic")
IGNORE_LABEL = 255  # label value that carries no class

# Weights files.
WEIGHTS_SUFFIXES = (".pt", ".onnx")
NORMALIZATION_METHODS = ("percentile", "fixed")
MAX_CLASSES = 254   # class values 0..253: 255 is the output nodata value
MAX_BANDS = 64
MAX_METADATA_JSON = 1 << 20  # characters of metadata JSON

# Tiled inference.
MIN_TILE, MAX_TILE = 32, 4096
MAX_BATCH = 256
CPU_BATCH = 4      # tiles per batch on the CPU (BATCH_SIZE 0 = automatic)
GPU_BATCH = 8      # tiles per batch on a GPU (halved on out-of-memory)

# Outputs.
NODATA_CLASS = 255       # land-cover GeoTIFF (Byte)
NODATA_FLOAT = -9999.0   # confidence, cloud-free and reliability GeoTIFFs (Float32)
OUTPUT_BLOCK = 256       # output GeoTIFF block side
