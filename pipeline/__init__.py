"""hnf-match pipeline: config, ingest, orchestration and the command line."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hnf-match")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"
