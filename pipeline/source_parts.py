"""A source given as a folder or a glob of Parquet parts, as a data lake holds them
(`extracts/police/` with part-00000.parquet ..., or `extracts/police/*.parquet`): which files
it reads, in which order, and what it leaves alone."""
from __future__ import annotations

import glob
import os
from pathlib import Path

from schemas.config_models import invalid
from schemas.errors import OutputInTheWay


def is_pattern(path: Path) -> bool:
    return glob.has_magic(str(path))


PARQUET_PART_SUFFIXES = (".parquet", ".pq")


def _ignored_part(name: str) -> bool:
    """What a data lake writes beside the parts and a run never reads: markers and checksums
    (`_SUCCESS`, `_committed_...`, `.part-00000.parquet.crc`) and any file not named .parquet/.pq."""
    return name.startswith(("_", ".")) or not name.lower().endswith(PARQUET_PART_SUFFIXES)


def source_parts(path: Path) -> tuple[Path, ...]:
    """The Parquet parts of a source given as a folder or a glob, sorted by path (so by file
    name within a folder); () for a source that is one file. A folder holding a sub-folder
    (a partitioned layout such as year=2026/) is refused rather than half read."""
    if is_pattern(path):
        found = [Path(p) for p in glob.glob(str(path))]
        parts = sorted(p for p in found if p.is_file() and not _ignored_part(p.name))
        if not parts:
            raise invalid(f"no Parquet file (.parquet, .pq) matches the pattern: {path}")
        return tuple(parts)
    if not path.is_dir():
        return ()
    try:
        entries = sorted(path.iterdir())
    except OSError as exc:
        raise invalid(f"cannot list the folder ({exc.strerror or type(exc).__name__}): {path}") from None
    folders = [e for e in entries if e.is_dir() and not e.name.startswith(("_", "."))]
    if folders:
        raise invalid(f"the folder holds a sub-folder ({folders[0].name}); partitioned folders are not read: "
                      f"name the part files with a glob, or one folder of parts: {path}")
    parts = tuple(e for e in entries if e.is_file() and not _ignored_part(e.name))
    if not parts:
        raise invalid(f"the folder holds no Parquet file (.parquet, .pq): {path}")
    return parts


def outside_part_folders(sources, outputs) -> None:
    """No output may be made inside the folder of a source's Parquet parts (OutputInTheWay,
    exit 2): a data lake's folder is the agency's, and a folder made there would be in the way
    of the source next time."""
    for src in sources:
        for folder in sorted({p.parent for p in src.parts}):
            held = os.path.realpath(folder)
            for out in outputs:
                real = os.path.realpath(out)
                if real == held or real.startswith(held.rstrip(os.sep) + os.sep):
                    raise OutputInTheWay(f"{out}: is inside {folder}, the folder of source {src.name}'s Parquet "
                                         "parts; name an output folder outside it")
