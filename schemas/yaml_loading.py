"""Bounded reading of the files a user names (run config, criteria and outcome rules, keys): a
regular file, never a pipe or a device, of bounded size; YAML with a bounded number of aliases
and nodes, so that no file can hang a run or exhaust its memory. Errors name the file and line."""
from __future__ import annotations

import logging
import math
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from schemas.errors import ConfigError

MAX_YAML_BYTES = 1 << 20      # a run config or a criteria set is a few KiB
MAX_ALIASES = 100             # *name references in one document
MAX_NODES = 100_000           # nodes once every alias is expanded ("billion laughs")
MAX_DEPTH = 100               # nesting of lists and mappings
KEY_MIN_BYTES = 32            # a pseudonymisation key
KEY_MAX_BYTES = 4096

STR_TAG = "tag:yaml.org,2002:str"
MAP_TAG = "tag:yaml.org,2002:map"
SET_TAG = "tag:yaml.org,2002:set"
# Tags YAML gives a plain scalar by itself; any other tag on a scalar was written (!!binary, ...).
IMPLICIT_SCALAR_TAGS = {STR_TAG, "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int",
                        "tag:yaml.org,2002:float", "tag:yaml.org,2002:null",
                        "tag:yaml.org,2002:timestamp"}

Trail = tuple  # of str (mapping keys as written) and int (list positions)

log = logging.getLogger("hnf_match")
# An open key is warned about once a process: the config load and the writer both read it.
_warned_keys: set[tuple[str, int]] = set()


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a plain file"


def file_problem(path: Path) -> str | None:
    """Why `path` cannot be read as an input file ("file not found", "not a regular file (a
    named pipe)", ...), or None. Looks with stat only: a pipe would block an open, a device
    would never end a read."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return "file not found"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or type(exc).__name__})"
    except ValueError:          # a NUL character in the name
        return "not a usable file name"
    if not stat.S_ISREG(st.st_mode):
        return f"not a regular file ({_kind(st.st_mode)})"
    return None


def _size(n: int) -> str:
    return f"{n // 1024} KiB" if n >= 1024 and n % 1024 == 0 else f"{n:,} bytes"


def read_bounded(path: Path, limit: int, what: str, origin: str | None = None) -> tuple[bytes, os.stat_result]:
    """The bytes of a regular file holding at most `limit` bytes, and its stat. `what` names the
    file in messages ("the config file"). Checked before the open, and again on the open file,
    which is opened without blocking so that a file swapped for a pipe cannot hang the read."""
    origin = origin or str(path)
    problem = file_problem(path)
    if problem == "file not found":
        raise ConfigError(f"{origin}: {what} not found")
    if problem is not None:
        raise ConfigError(f"{origin}: {what}: {problem}")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise ConfigError(f"{origin}: cannot read {what} ({exc.strerror or type(exc).__name__})") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(f"{origin}: {what}: not a regular file ({_kind(st.st_mode)})")
        if st.st_size > limit:
            raise ConfigError(f"{origin}: {what} is too large ({st.st_size:,} bytes; at most {_size(limit)})")
        try:
            data = fh.read(limit + 1)
        except OSError as exc:
            raise ConfigError(f"{origin}: cannot read {what} ({exc.strerror or type(exc).__name__})") from None
    if len(data) > limit:  # it grew after the stat
        raise ConfigError(f"{origin}: {what} is too large (more than {_size(limit)})")
    return data, st


def read_key_file(path: Path, permissions: str = "warn") -> bytes:
    """A pseudonymisation key: a regular file (never a pipe or a device) of at most 4 KiB that
    holds at least 32 bytes, stripped. A key the group or others may read or write is warned
    about, as ssh does, or refused with permissions="refuse"."""
    raw, st = read_bounded(Path(path), KEY_MAX_BYTES, "the pseudonymisation key")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        message = (f"{path}: the pseudonymisation key is readable or writable by group or others "
                   f"(mode {mode:04o}); anyone who can read it can recompute the pseudonyms: "
                   f"chmod 600 {path}")
        if permissions == "refuse":
            raise ConfigError(f"{message} (refused: outputs.key_permissions is refuse)")
        if (str(path), mode) not in _warned_keys:
            _warned_keys.add((str(path), mode))
            log.warning("%s", message)
    key = raw.strip()
    if len(key) < KEY_MIN_BYTES:
        raise ConfigError(f"{path}: the pseudonymisation key must hold at least {KEY_MIN_BYTES} bytes "
                          "(make one with: head -c 48 /dev/urandom | base64 > key)")
    return key


# ---------------------------------------------------------------------------------------------
# YAML

@dataclass(frozen=True)
class YamlDocument:
    """A parsed YAML file: its data, its root node (PyYAML's tree, with line marks) and the line
    of every key as written (trail of keys and list positions -> 1-based line)."""
    origin: str
    data: Any
    root: yaml.Node | None
    lines: dict[Trail, int] = field(default_factory=dict)
    duplicates: tuple[tuple[Trail, int], ...] = ()   # keys given twice in one mapping

    def line(self, trail: Trail) -> int | None:
        """The line of `trail`, or of its nearest ancestor that has one."""
        for n in range(len(trail), 0, -1):
            line = self.lines.get(tuple(trail[:n]))
            if line:
                return line
        return None


def key_name(trail: Trail) -> str:
    """A trail as the user reads it: linkage.blocking.passes[0].keys."""
    out = ""
    for part in trail:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that counts while it composes: aliases, nesting and the size of every node as
    if its aliases were expanded, and refuses a document over the limits before building data."""

    def __init__(self, text: str, origin: str):
        super().__init__(text)
        self.origin = origin
        self._aliases = 0
        self._depth = 0
        self._sizes: dict[int, int] = {}   # id(node) -> nodes once aliases are expanded
        self.trails: dict[int, Trail] = {}  # id(node) -> its key trail, for messages

    def _refuse(self, mark, message: str) -> ConfigError:
        line = f", line {mark.line + 1}" if mark is not None else ""
        return ConfigError(f"{self.origin}{line}: {message}")

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise self._refuse(mark, f"more than {MAX_ALIASES} aliases (*name): refused")
            node = super().compose_node(parent, index)
            if id(node) not in self._sizes:
                raise self._refuse(mark, "an alias (*name) inside the node it names: refused")
            return node
        mark = self.peek_event().start_mark
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise self._refuse(mark, f"nested more than {MAX_DEPTH} levels deep: refused")
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if isinstance(node, yaml.MappingNode):
            size = 1 + sum(self._sizes[id(k)] + self._sizes[id(v)] for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            size = 1 + sum(self._sizes[id(n)] for n in node.value)
        else:
            size = 1
        if size > MAX_NODES:
            raise self._refuse(mark, f"more than {MAX_NODES:,} values once aliases (*name) are expanded: refused")
        self._sizes[id(node)] = size
        return node

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, AttributeError, OverflowError):
            # An impossible date (2026-02-30), `!!int` on text, ...: say where, never the value.
            trail = self.trails.get(id(node))
            key = f"{key_name(trail)}: " if trail else ""
            raise self._refuse(node.start_mark, f"{key}a value YAML cannot read (an impossible date, "
                                                "or a !!tag that does not fit the value)") from None


def _key_lines(root: yaml.Node, trails: dict[int, Trail]) -> tuple[dict[Trail, int], list[tuple[Trail, int]]]:
    """Line of every mapping key and list item, by trail; and the keys given twice. Fills
    `trails` with the trail of every node."""
    lines: dict[Trail, int] = {}
    duplicates: list[tuple[Trail, int]] = []
    todo: list[tuple[yaml.Node, Trail]] = [(root, ())]
    seen = 0
    while todo:
        node, trail = todo.pop()
        trails.setdefault(id(node), trail)
        seen += 1
        if seen > MAX_NODES:    # aliases already bounded this; a second guard costs nothing
            break
        if isinstance(node, yaml.MappingNode):
            keys = set()
            for k_node, v_node in node.value:
                if not isinstance(k_node, yaml.ScalarNode):
                    continue
                key = k_node.value
                if key in keys:
                    duplicates.append((trail + (key,), k_node.start_mark.line + 1))
                    continue
                keys.add(key)
                trails.setdefault(id(k_node), trail + (key,))
                lines[trail + (key,)] = k_node.start_mark.line + 1
                todo.append((v_node, trail + (key,)))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                lines[trail + (i,)] = item.start_mark.line + 1
                todo.append((item, trail + (i,)))
    return lines, duplicates


def parse_yaml(text: str, origin: str) -> YamlDocument:
    """Parse one YAML document within the limits. Every failure is a ConfigError that names
    `origin` and, where YAML knows it, the line."""
    if len(text) > MAX_YAML_BYTES:
        raise ConfigError(f"{origin}: the file is too large (more than {_size(MAX_YAML_BYTES)})")
    try:
        loader = _BoundedLoader(text, origin)
    except yaml.YAMLError:  # the reader checks every character first
        raise ConfigError(f"{origin}: not valid YAML (it holds a control character YAML does not allow)") from None
    try:
        root = loader.get_single_node()
        lines, duplicates = _key_lines(root, loader.trails) if root is not None else ({}, [])
        # Construction merges `<<: *name` keys into their mappings in place: the lines above
        # are those of the keys as written.
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f", line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{origin}{line}: not valid YAML ({exc.problem or 'syntax error'})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{origin}: not valid YAML ({type(exc).__name__})") from None
    finally:
        loader.dispose()
    return YamlDocument(origin=origin, data=data, root=root, lines=lines, duplicates=tuple(duplicates))


def load_yaml_file(path: Path, what: str, origin: str | None = None) -> YamlDocument:
    """Read and parse a user's YAML file (a regular file of at most MAX_YAML_BYTES, UTF-8 with
    or without a byte order mark). `what` names it in messages ("the config file")."""
    origin = origin or str(path)
    raw, _ = read_bounded(Path(path), MAX_YAML_BYTES, what, origin)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"{origin}: cannot read {what} (not UTF-8 text)") from None
    return parse_yaml(text, origin)


def node_value(node: yaml.Node) -> Any:
    """The value of a node of a document parse_yaml has read (and so constructed once)."""
    return yaml.constructor.SafeConstructor().construct_object(node, deep=True)


def written_text(node: yaml.Node) -> str | None:
    """A scalar as written in the file, for names that YAML would otherwise turn into something
    else (a column heading `01`, a code `Yes`); None for a list, a mapping or a !!tag value."""
    if isinstance(node, yaml.ScalarNode) and node.tag in IMPLICIT_SCALAR_TAGS:
        return node.value
    return None


def is_finite_number(value: Any) -> bool:
    """int or float, not bool, not nan or infinity."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def builtin_or_path(name_or_path: str | Path, folder: Path, kind: str, builtins: list[str]) -> tuple[Path, str]:
    """(path, origin) of a built-in YAML file `folder/<name>.yaml` named by its bare name, or of
    a file given by path. `kind` ("criteria set", "unit-cost table") says what it is in the
    origin and in the ConfigError for a name that is neither, which lists `builtins`."""
    text = str(name_or_path)
    builtin = folder / f"{text}.yaml"
    if "/" not in text and "\\" not in text and builtin.is_file():
        return builtin, f"built-in {kind} {text}"
    path = Path(text)
    if file_problem(path) == "file not found":
        raise ConfigError(f"{kind} {text}: no such built-in {kind.split()[-1]} ({', '.join(builtins)}) or file")
    return path, text
