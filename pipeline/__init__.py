"""hnf-match pipeline: config, ingest, orchestration and the command line.

Importing the package does nothing else, so that the console script can handle stop signals
from its first instruction (pipeline/entry.py); the version is looked up when first asked for.
"""


def __getattr__(name: str):
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version
        try:
            value = version("hnf-match")
        except PackageNotFoundError:  # running from a source tree that is not installed
            value = "0.0.0+source"
        globals()["__version__"] = value
        return value
    raise AttributeError(f"module 'pipeline' has no attribute {name!r}")
