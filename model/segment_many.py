"""``python -m model.segment_many``: many optical + SAR pairs, or one large pair in blocks, on a Dask cluster (see
model/distributed/cli.py for the options and exit statuses)."""

import sys

from .distributed.cli import main

if __name__ == "__main__":
    sys.exit(main())
