"""The output folder, written safely.

- An output path is used only when it is missing, empty, or an earlier hnf-match output whose
  manifest lists every file in it, unchanged. Anything else is refused before any work (exit
  2), naming the path and what is in the way. A path that is, or holds, one of the run's own
  inputs (extracts, config, key, --previous, log file) is never replaced.
- One run at a time: a lock file beside the folder, written whole before it is linked into
  place, so it is never left empty and always names its owner.
- Every file is written into a temporary folder beside the output; the folder is swapped into
  place only when every output is complete. The swap is journalled: a run killed between its
  two renames leaves a journal from which the next run restores the previous outputs, and says
  so.
Nothing here deletes or moves anything it cannot prove it wrote itself.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import shutil
import socket
import stat
import time
from pathlib import Path

from pipeline import stopping
from reports.manifest import sha256_of
from schemas.errors import LockedError, OutputError, OutputInTheWay

log = logging.getLogger("hnf_match")

MANIFEST = "manifest.json"
# Inside a temporary output folder while it is being written: the proof that it is ours.
PARTIAL_MARK = ".hnf-match-partial"
# What hnf-match has written into an output folder (for folders whose manifest predates the
# inventory of files it now keeps).
KNOWN_NAMES = {
    MANIFEST, "need_matrix.csv", "need_matrix.xlsx", "families.csv", "members.csv", "record_links.csv", "evidence.csv",
    "review_pairs.csv", "review_families.csv", "review.html", "changes.csv", "report.html", "reconciliation.csv",
    "clerical_decisions.csv", "baselines.csv", "outcomes.csv", "claims.csv", "claims_evidence.csv",
    "id_changes.csv", "linkage_quality_by_group.csv", "link_explanations.csv", "family_demand.csv", "member_demand.csv",
    "rejected", "warnings", "linkage_state",
}
# A legacy lock file with nothing in it (written by a version before locks were written whole)
# is taken over once it is this old: no run of ours leaves one behind any more.
EMPTY_LOCK_GRACE_S = 60


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _files_in(folder: Path) -> list[str]:
    """Every file under folder, as relative POSIX paths, sorted."""
    out = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in files:
            out.append(Path(root, name).relative_to(folder).as_posix())
    return sorted(out)


def _write_whole(path: Path, text: str, mode: int = 0o600) -> None:
    """Write a small file so that it appears complete or not at all."""
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


# ---------------------------------------------------------------------------------------------
# Is this folder ours to replace?

def read_manifest(folder: Path) -> dict | None:
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("tool") == "hnf-match" else None


def foreign_files(folder: Path, hashes: bool = True) -> tuple[list[str], str]:
    """The files in an existing folder that stop hnf-match from replacing it, and why.
    Empty when the folder is empty or an unchanged earlier hnf-match output (sizes always
    checked; contents too unless `hashes` is False, for a quick first look)."""
    present = _files_in(folder)
    entries = sorted(os.listdir(folder))
    if not entries:
        return [], ""
    manifest = read_manifest(folder)
    if manifest is None:
        return entries, "it is not an earlier hnf-match output (no hnf-match manifest.json)"
    listed = manifest.get("files")
    if not isinstance(listed, dict):
        # A manifest from before files were listed: only the names hnf-match writes.
        strange = [e for e in entries if e not in KNOWN_NAMES]
        return strange, "hnf-match did not write them"
    strange = [f for f in present if f != MANIFEST and f not in listed]
    if strange:
        return strange, "hnf-match did not write them"
    changed = []
    for rel in present:
        if rel == MANIFEST:
            continue
        want = listed[rel]
        p = folder / rel
        if not isinstance(want, dict) or p.stat().st_size != want.get("bytes") \
                or (hashes and sha256_of(p) != want.get("sha256")):
            changed.append(rel)
    if changed:
        return changed, "they were changed after hnf-match wrote them"
    # Folders that hold listed files are ours; any other folder (an empty one) is not.
    implied = {p.as_posix() for f in listed for p in Path(f).parents if p != Path(".")}
    folders = [Path(root).relative_to(folder).as_posix() for root, _, _ in os.walk(folder) if Path(root) != folder]
    strange = sorted(d for d in folders if d not in implied)
    if strange:
        return strange, "hnf-match did not make them"
    return [], ""


def _show(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def check_output_path(output: Path, protected: dict[str, list[Path]] | None = None, *, hashes: bool = True) -> None:
    """Refuse, before any work, an output path hnf-match may not replace (OutputInTheWay, exit 2).
    `protected` names what the run reads ("the config", "an extract", ...): the output folder
    must neither be nor hold any of them."""
    output = Path(output)
    if output.is_symlink():
        raise OutputInTheWay(f"{output}: is a symbolic link; name the folder it points to, or another folder")
    real = _real(output)
    if real == Path(real.anchor) or (output.exists() and os.path.ismount(output)):
        raise OutputInTheWay(f"{output}: is a mount point (or the root folder); hnf-match replaces its output "
                             "folder as a whole, which a mount point cannot be. Name a folder inside it, "
                             f"e.g. {output / 'out'}")
    for what, paths in (protected or {}).items():
        for p in paths:
            if p is None:
                continue
            rp = _real(Path(p))
            if rp == real or real in rp.parents:
                raise OutputInTheWay(f"{output}: holds {what} ({p}); hnf-match never replaces a folder that holds "
                                     "its own inputs. Name another output folder")
    try:
        cwd = _real(Path.cwd())
    except OSError:
        cwd = None
    if cwd is not None and (cwd == real or real in cwd.parents):
        raise OutputInTheWay(f"{output}: is or holds the current folder; run hnf-match from another folder "
                             "or name another output folder")
    if not output.exists():
        ancestor = output.parent
        while not ancestor.exists() and ancestor != ancestor.parent:
            ancestor = ancestor.parent
        if not ancestor.is_dir():
            raise OutputInTheWay(f"{output}: cannot be made, {ancestor} is a file, not a folder")
        if not os.access(ancestor, os.W_OK | os.X_OK):
            raise OutputError(f"{output}: cannot be made, no permission to write in {ancestor}")
        return
    if not os.access(output.parent, os.W_OK | os.X_OK):
        raise OutputError(f"{output}: cannot be replaced, no permission to write in {output.parent}")
    if not output.is_dir():
        raise OutputInTheWay(f"{output}: is a file, not a folder; hnf-match never replaces a file. "
                             "Name a folder (missing, empty or an earlier hnf-match output)")
    try:
        names, why = foreign_files(output, hashes)
    except OSError as exc:
        raise OutputError(f"{output}: cannot look inside the output folder ({exc.strerror or type(exc).__name__})") from None
    if names:
        raise OutputInTheWay(f"{output}: the output folder holds {_show(names)}, and {why}; hnf-match replaces "
                             "only a missing or empty folder or an earlier hnf-match output. Move those files "
                             "or name another output folder")


# ---------------------------------------------------------------------------------------------
# One run at a time

class RunLock:
    """`<output>.lock` holding the owner's pid, host and start time. It is written to a private
    file first and linked into place, so it is complete whenever it exists. A lock whose process
    is gone (on this host) is stale and is taken over."""

    def __init__(self, output: Path):
        self.path = output.parent / (output.name + ".lock")
        self.held = False

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        mine = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        body = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()})
        try:
            _write_whole(mine, body)
            for _ in range(3):
                try:
                    os.link(mine, self.path)
                except FileExistsError:
                    if self._stale():
                        with contextlib.suppress(FileNotFoundError):
                            self.path.unlink()
                        continue
                    owner = self._owner()
                    who = f"process {owner.get('pid')} on {owner.get('host')}" if owner else "another process"
                    raise LockedError(
                        f"{self.path.parent / self.path.name[:-5]}: another run is writing this output folder "
                        f"({who}, lock file {self.path}); wait for it to finish. If no run is going on, "
                        "delete the lock file.") from None
                self.held = True
                return
            raise LockedError(f"{self.path}: could not take the lock")
        finally:
            with contextlib.suppress(OSError):
                mine.unlink()

    def _owner(self) -> dict | None:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _stale(self) -> bool:
        owner = self._owner()
        if owner is None:       # empty or damaged: only a legacy lock, and only once it is old
            try:
                age = time.time() - self.path.stat().st_mtime
            except FileNotFoundError:
                return True
            return age > EMPTY_LOCK_GRACE_S
        try:
            pid = int(owner.get("pid", 0))
        except (TypeError, ValueError):
            pid = 0
        return owner.get("host") == socket.gethostname() and not _pid_alive(pid)

    def release(self) -> None:
        if self.held:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            self.held = False


# ---------------------------------------------------------------------------------------------
# Write beside, then swap

class OutputFolder:
    """with OutputFolder(out, mode, protected=...) as tmp: write into tmp; on success tmp becomes
    out. On any failure or signal the previous outputs stay as they were."""

    def __init__(self, output: Path, dir_mode: int = 0o700, protected: dict[str, list[Path]] | None = None):
        self.output = Path(output)
        self.dir_mode = dir_mode
        self.protected = protected
        self.lock = RunLock(self.output)
        self.tmp: Path | None = None
        self.parent = self.output.parent
        self.journal = self.parent / f".{self.output.name}.swap"

    def __enter__(self) -> Path:
        check_output_path(self.output, self.protected, hashes=False)
        try:
            self.lock.acquire()
        except OSError as exc:
            raise _write_error(exc, self.output) from None
        try:
            self._recover()
            self._remove_leftovers()
            check_output_path(self.output, self.protected)   # again, now that the lock is ours
            self.tmp = self.parent / f".{self.output.name}.tmp-{os.getpid()}"
            self.tmp.mkdir(mode=self.dir_mode)
            os.chmod(self.tmp, self.dir_mode)
            (self.tmp / PARTIAL_MARK).write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
        except BaseException as exc:
            self._discard_tmp()
            self.lock.release()
            if isinstance(exc, OSError):
                raise _write_error(exc, self.output) from None
            raise
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            if exc_type is None:
                stopping.check()      # a signal some library swallowed still stops the swap
                self._seal()
                self._swap()
                stopping.committed(self.output)
            else:
                self._discard_tmp()
        except BaseException as failure:
            self._discard_tmp()
            if isinstance(failure, OSError):
                raise _write_error(failure, self.output) from None
            raise
        finally:
            self.lock.release()
        if isinstance(exc, OSError):
            raise _write_error(exc, self.output) from None
        return False

    def _discard_tmp(self) -> None:
        if self.tmp is not None and self.tmp.exists() and _is_our_tmp(self.tmp):
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _seal(self) -> None:
        """List every file written, with its size and hash, in the manifest: what makes this
        folder provably ours when the next run comes to replace it."""
        (self.tmp / PARTIAL_MARK).unlink()
        files = {}
        for rel in _files_in(self.tmp):
            if rel == MANIFEST:
                continue
            p = self.tmp / rel
            files[rel] = {"bytes": p.stat().st_size, "sha256": sha256_of(p)}
        manifest = read_manifest(self.tmp) or {"tool": "hnf-match"}
        manifest["files"] = files
        mode = stat.S_IMODE((self.tmp / MANIFEST).stat().st_mode) if (self.tmp / MANIFEST).exists() else 0o600
        (self.tmp / MANIFEST).unlink(missing_ok=True)
        fd = os.open(self.tmp / MANIFEST, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n")
        os.chmod(self.tmp / MANIFEST, mode)

    def _swap(self) -> None:
        old = self.parent / f".{self.output.name}.old-{os.getpid()}"
        had_output = self.output.exists()
        # The journal first: whatever kills us from here on, the next run can put things right.
        _write_whole(self.journal, json.dumps({"old": old.name if had_output else None, "new": self.tmp.name,
                                               "pid": os.getpid(), "host": socket.gethostname()}))
        with stopping.deferred():
            if had_output:
                os.rename(self.output, old)
            try:
                os.rename(self.tmp, self.output)
            except OSError:
                if had_output:
                    os.rename(old, self.output)
                self.journal.unlink(missing_ok=True)
                raise
        if had_output:
            shutil.rmtree(old, ignore_errors=True)
        self.journal.unlink(missing_ok=True)
        self.tmp = None

    def _recover(self) -> None:
        """Put right a swap that an earlier run did not finish (killed with SIGKILL, power cut):
        the previous outputs are restored, never lost, and the log says so."""
        if self.journal.exists():
            try:
                j = json.loads(self.journal.read_text(encoding="utf-8"))
                old = self.parent / j["old"] if j.get("old") else None
                new = self.parent / j["new"]
            except (OSError, ValueError, KeyError, TypeError):
                raise OutputError(f"{self.journal}: an earlier run's swap journal cannot be read; look at "
                                  f"the hidden folders beside {self.output} before running again") from None
            if old is not None and old.exists() and not self.output.exists():
                os.rename(old, self.output)
                log.warning("%s: an earlier run was stopped while replacing the outputs; the previous outputs "
                            "were restored", self.output)
            elif old is not None and old.exists() and not new.exists():
                shutil.rmtree(old, ignore_errors=True)   # both renames were done: only the clean-up was left
                log.warning("%s: finished the clean-up of an earlier run that was stopped after replacing "
                            "the outputs", self.output)
            if new.exists():
                shutil.rmtree(new, ignore_errors=True)
            self.journal.unlink()
            return
        # Versions before the journal left `.NAME.old-PID` behind when killed mid-swap.
        olds = sorted(p for p in self.parent.glob(f".{self.output.name}.old-*")
                      if p.is_dir() and read_manifest(p) is not None)
        if olds and not self.output.exists():
            os.rename(olds[-1], self.output)
            log.warning("%s: restored the outputs an earlier version left hidden in %s", self.output, olds[-1].name)
        elif olds:
            log.warning("%s: hidden earlier outputs beside it (%s) were left as they are; delete them when "
                        "they are no longer needed", self.output, _show([p.name for p in olds]))

    def _remove_leftovers(self) -> None:
        """Temporary folders of runs that died with SIGKILL: only those holding our mark."""
        for leftover in self.parent.glob(f".{self.output.name}.tmp-*"):
            if leftover.is_dir() and not leftover.is_symlink() and _is_our_tmp(leftover):
                shutil.rmtree(leftover, ignore_errors=True)


_DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.EFBIG, errno.EIO}


def _write_error(exc: OSError, output: Path) -> BaseException:
    """A full disk, a quota, a read-only or forbidden folder while writing outputs: the user's to
    fix (exit 3, naming the output folder and the file). Any other OSError is a bug."""
    if exc.errno not in _DISK_ERRORS:
        return exc
    where = f" ({exc.filename})" if exc.filename else ""
    return OutputError(f"{output}: cannot write the outputs{where}: {exc.strerror or type(exc).__name__}; "
                       "the previous outputs were left as they were")


def _is_our_tmp(folder: Path) -> bool:
    """A temporary folder of ours: still being written (its mark) or sealed (its inventory)."""
    if (folder / PARTIAL_MARK).is_file():
        return True
    manifest = read_manifest(folder)
    return manifest is not None and isinstance(manifest.get("files"), dict)


def add_to_inventory(folder: Path, rel: str) -> None:
    """Record a file written later into an hnf-match output (changes.csv, by `compare`) in its
    manifest, so that the folder stays provably ours."""
    manifest = read_manifest(folder)
    if manifest is None or not isinstance(manifest.get("files"), dict):
        return
    p = folder / rel
    manifest["files"][rel] = {"bytes": p.stat().st_size, "sha256": sha256_of(p)}
    mode = stat.S_IMODE((folder / MANIFEST).stat().st_mode)
    _write_whole(folder / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n", mode)
