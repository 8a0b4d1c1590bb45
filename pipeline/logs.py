"""Logging for people and for schedulers: timestamped plain lines (or JSON lines) to stderr and
optionally to a file. Messages carry counts, sources and row numbers, never personal data."""
from __future__ import annotations

import json
import logging
import os
import sys
import time
import traceback

LOGGER = "hnf_match"
# The log files this process appends to: an output folder must never hold one (it is replaced whole).
LOG_FILES: list[str] = []


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps({
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(record.created)),
            "level": record.levelname.lower(),
            "message": record.getMessage(),
        }, ensure_ascii=False)


PLAIN = logging.Formatter("%(asctime)s %(levelname)s %(message)s", datefmt="%Y-%m-%dT%H:%M:%S")


def setup_logging(*, quiet: bool, log_file: str | None, log_format: str, interactive: bool) -> logging.Logger:
    logger = logging.getLogger(LOGGER)
    logger.handlers.clear()
    logger.setLevel(logging.INFO)
    logger.propagate = False
    fmt = JsonFormatter() if log_format == "json" else PLAIN
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(fmt)
    stream.addFilter(lambda record: not getattr(record, "file_only", False))
    # On a terminal the progress display tells the story; the log shows only problems there.
    stream.setLevel(logging.ERROR if quiet else (logging.WARNING if interactive else logging.INFO))
    logger.addHandler(stream)
    LOG_FILES.clear()
    if log_file:
        if os.path.exists(log_file) and not os.path.isfile(log_file):
            from schemas.errors import ConfigError
            raise ConfigError(f"{log_file}: --log-file is not a regular file (a folder, a device or a pipe)")
        LOG_FILES.append(os.path.abspath(log_file))
        fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        handler = logging.StreamHandler(os.fdopen(fd, "a", encoding="utf-8"))
        handler.setFormatter(fmt)
        handler.setLevel(logging.INFO)
        logger.addHandler(handler)
    return logger


def where_it_failed(exc: BaseException) -> str:
    """The innermost frame of our own code, as file:line: enough to report a bug without the
    exception's message, which may quote a data value."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if any(part in f.filename for part in ("/pipeline/", "/matching/", "/criteria/", "/schemas/", "/reports/"))]
    f = (ours or frames or [None])[-1]
    if f is None:
        return "unknown place"
    parts = f.filename.replace("\\", "/").split("/")
    return f"{'/'.join(parts[-2:])}:{f.lineno}"
