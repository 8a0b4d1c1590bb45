"""The output folder, written safely: one run at a time (a lock file beside the folder), every
file written into a temporary folder beside it, and the folder swapped into place only when
every output is complete. An interrupted or failed run leaves the previous outputs untouched
and no partial folder behind."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import time
from pathlib import Path

from schemas.errors import InterruptedRun, LockedError


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    """`<output>.lock` holding the owner's pid and host. A lock whose process is gone (on this
    host) is stale and is taken over."""

    def __init__(self, output: Path):
        self.path = output.parent / (output.name + ".lock")
        self.held = False

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                owner = self._owner()
                if owner and owner.get("host") == socket.gethostname() and not _pid_alive(int(owner.get("pid", 0))):
                    self.path.unlink(missing_ok=True)   # stale: its process has died
                    continue
                who = f"process {owner.get('pid')} on {owner.get('host')}" if owner else "another process"
                raise LockedError(
                    f"{self.path.parent / self.path.name[:-5]}: another run is writing this output folder "
                    f"({who}, lock file {self.path}); wait for it to finish. If no run is going on, delete the lock file.")
            with os.fdopen(fd, "w") as fh:
                json.dump({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}, fh)
            self.held = True
            return
        raise LockedError(f"{self.path}: could not take the lock")

    def _owner(self) -> dict | None:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False


class OutputFolder:
    """with OutputFolder(out, mode) as tmp: write into tmp; on success tmp becomes out."""

    def __init__(self, output: Path, dir_mode: int = 0o700):
        self.output = Path(output)
        self.dir_mode = dir_mode
        self.lock = RunLock(self.output)
        self.tmp: Path | None = None

    def __enter__(self) -> Path:
        self.lock.acquire()
        try:
            parent = self.output.parent
            for leftover in parent.glob(f".{self.output.name}.tmp-*"):
                shutil.rmtree(leftover, ignore_errors=True)   # from a run killed with SIGKILL
            self.tmp = parent / f".{self.output.name}.tmp-{os.getpid()}"
            self.tmp.mkdir(mode=self.dir_mode)
            os.chmod(self.tmp, self.dir_mode)
        except BaseException:
            self.lock.release()
            raise
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            if exc_type is None:
                self._swap()
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)
        finally:
            self.lock.release()
        return False

    def _swap(self) -> None:
        old = None
        if self.output.exists():
            old = self.output.parent / f".{self.output.name}.old-{os.getpid()}"
            os.rename(self.output, old)
        try:
            os.rename(self.tmp, self.output)
        except OSError:
            if old is not None:
                os.rename(old, self.output)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
