"""The run config (YAML): load it, check every key, and resolve paths against the config's folder.

Every key is declared once, in the tables below, with the check its value must pass. Errors name
the config file, the line and the key, so an analyst can fix them without help.
"""
from __future__ import annotations

import codecs
import datetime as dt
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

import yaml

from criteria.language import COUNTING, SETS_DIR, list_builtin
from matching.settings import LinkageSettings, SettingError
from schemas.errors import ConfigError
from schemas.fields import AGENCY_FIELDS, COUNT, ENUM, FLAG, MONEY, fields_for
from schemas.yaml_loading import (MAP_TAG, SET_TAG, YamlDocument, file_problem, is_finite_number, key_name,
                                  load_yaml_file, node_value, read_key_file, written_text)

DATE_FORMATS = ("auto", "iso", "dmy", "mdy")
DEFAULT_CRITERIA = "troubled-families-2015"
DEFAULT_MAX_REJECTED_SHARE = 0.05
DEFAULT_MAX_WARNING_SHARE = 0.05
DEFAULT_MIN_GROUP_SIZE = 10
PROFILES = ("full", "shareable")
LAYOUTS = ("families-as-rows", "families-as-columns")
KEY_PERMISSIONS = ("warn", "refuse")
# A source's name becomes a file name (rejected/NAME.csv): nothing that could leave the folder.
SOURCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class SourceConfig:
    name: str
    kind: str
    path: Path
    columns: dict[str, str] = field(default_factory=dict)      # their column -> canonical field
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # field -> their value -> ours
    sheet: str | None = None
    delimiter: str | None = None
    encoding: str | None = None
    date_format: str = "auto"
    max_rejected_share: float | None = None
    max_warning_share: float | None = None


@dataclass(frozen=True)
class OutputOptions:
    profile: str = "full"                 # full | shareable
    pseudonymise_key: Path | None = None
    file_mode: int = 0o600
    csv_bom: bool = False
    layout: str = "families-as-rows"
    key_permissions: str = "warn"         # a key others can read: warn | refuse


@dataclass(frozen=True)
class ReportOptions:
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE   # smallest group in linkage quality by group


@dataclass(frozen=True)
class RunConfig:
    path: Path
    as_of: dt.date
    criteria: str
    sources: dict[str, SourceConfig]
    output: Path
    max_rejected_share: float = DEFAULT_MAX_REJECTED_SHARE
    max_warning_share: float = DEFAULT_MAX_WARNING_SHARE
    review_decisions: Path | None = None
    linkage: dict[str, Any] = field(default_factory=dict)
    outputs: OutputOptions = field(default_factory=OutputOptions)
    previous: Path | None = None
    criteria_settings: dict[str, Any] = field(default_factory=dict)
    outcome_settings: dict[str, Any] = field(default_factory=dict)
    baselines: Path | None = None          # a council's case starts: family_id, baseline_date
    report: ReportOptions = field(default_factory=ReportOptions)
    raw: dict[str, Any] = field(default_factory=dict)   # the config as written, for the manifest

    def rejected_limit(self, source: str) -> float:
        own = self.sources[source].max_rejected_share
        return self.max_rejected_share if own is None else own

    def warning_limit(self, source: str) -> float:
        own = self.sources[source].max_warning_share
        return self.max_warning_share if own is None else own


# ---------------------------------------------------------------------------------------------
# Where a value is: file, line and key

class _Where:
    """The config file, its folder and the line of every key."""

    def __init__(self, path: Path, doc: YamlDocument):
        self.path = path
        self.doc = doc
        self.base = path.resolve().parent

    def error(self, trail: tuple, message: str, node: yaml.Node | None = None,
              line: int | None = None) -> ConfigError:
        line = line or self.doc.lines.get(tuple(trail))
        if line is None and node is not None:
            line = node.start_mark.line + 1       # a key merged in with `<<:` has no line of its own
        if line is None:
            line = self.doc.line(trail)
        where = f"{self.path}" + (f", line {line}" if line else "")
        key = key_name(trail)
        return ConfigError(f"{where}: {key + ': ' if key else ''}{message}")


@dataclass(frozen=True)
class _At:
    """One value of the config: its YAML node and the trail of keys that leads to it."""
    node: yaml.Node
    trail: tuple
    where: _Where

    @cached_property
    def value(self) -> Any:
        return node_value(self.node)

    def child(self, key: str | int, node: yaml.Node) -> "_At":
        return _At(node, self.trail + (key,), self.where)

    def fail(self, message: str) -> ConfigError:
        return self.where.error(self.trail, message, self.node)


def _found(at: _At) -> str:
    """What a wrong value is, in the user's words (never the value itself)."""
    node, value = at.node, at.value
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if isinstance(node, yaml.MappingNode):
        return "a set (!!set)" if node.tag == SET_TAG else "a mapping"
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, float) and not value.is_integer():
        return "a number with a fraction"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, dt.date):
        return "a date"
    if isinstance(value, bytes):
        return "binary data (!!binary)"
    if isinstance(value, str):
        return "empty text" if not value.strip() else "text"
    return f"a {type(value).__name__}"


def _wrong(at: _At, want: str, quote_hint: str = "") -> ConfigError:
    """`want`, not what was found; for a number where text is wanted, how to write it as text."""
    hint = f": write it in quotes if it is {quote_hint}" if quote_hint and is_finite_number(at.value) else ""
    return at.fail(f"must be {want}, not {_found(at)}{hint}")


# ---------------------------------------------------------------------------------------------
# Checks: each takes a value where it is and returns what the config holds

Check = Callable[[_At], Any]


@dataclass(frozen=True)
class Key:
    """One config key: the check its value must pass (and which turns it into what the config
    holds), and whether it must be given. Defaults are those of the dataclasses above."""
    check: Check
    required: bool = False


def text(choices: tuple[str, ...] = (), lower: bool = False) -> Check:
    def check(at: _At) -> str:
        value = at.value
        if not isinstance(value, str) or not value.strip():
            raise _wrong(at, f"one of {', '.join(choices)}" if choices else "text")
        value = value.strip().lower() if lower else value.strip()
        if choices and value not in choices:
            raise at.fail(f"must be one of {', '.join(choices)}")
        return value
    return check


def whole(minimum: int) -> Check:
    def check(at: _At) -> int:
        value = at.value
        if isinstance(value, bool) or not isinstance(value, int):
            raise _wrong(at, f"a whole number, {minimum} or more")
        if value < minimum:
            raise at.fail(f"must be a whole number, {minimum} or more")
        return value
    return check


def share(at: _At) -> float:
    value = at.value
    if not is_finite_number(value):
        raise _wrong(at, "a number between 0 and 1")
    if not 0 <= value <= 1:
        raise at.fail("must be a number between 0 and 1 (0.05 means 5%)")
    return float(value)


def flag(at: _At) -> bool:
    if not isinstance(at.value, bool):
        raise _wrong(at, "true or false")
    return at.value


def date(at: _At) -> dt.date:
    value = at.value
    if isinstance(value, dt.datetime):
        raise at.fail("not a date: write it as YYYY-MM-DD, without a time")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
        raise at.fail("not a date: write it as YYYY-MM-DD")
    raise at.fail(f"not a date: write it as YYYY-MM-DD (found {_found(at)})")


def _resolve(base: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return Path(os.path.normpath(p if p.is_absolute() else (base / p)))


def _path_text(at: _At, what: str) -> Path:
    value = at.value
    if not isinstance(value, str) or not value.strip():
        raise _wrong(at, f"the path of {what} (text)", f"{what} name")
    if "\0" in value:
        raise at.fail("a path must not hold a NUL character")
    return _resolve(at.where.base, value)


def folder(at: _At) -> Path:
    return _path_text(at, "a folder")


def input_file(noun: str = "file") -> Check:
    """A file the run reads: it must be there and be a regular file (never a pipe or a device,
    which could hang the run or never end)."""
    def check(at: _At) -> Path:
        path = _path_text(at, "a file")
        problem = file_problem(path)
        if problem is not None:
            raise at.fail(f"{problem.replace('file not found', f'{noun} not found')}: {path}")
        return path
    return check


def _entries(at: _At, want: str) -> list[tuple[str, _At]]:
    """The keys and values of a mapping, each key as written in the file."""
    node = at.node
    if not isinstance(node, yaml.MappingNode) or node.tag != MAP_TAG:
        raise _wrong(at, want)
    out: dict[str, _At] = {}
    for k_node, v_node in node.value:
        key = written_text(k_node)
        if key is None:
            raise at.where.error(at.trail, "a key must be a plain name, not a list, a mapping or a !!tag", k_node)
        out[key] = at.child(key, v_node)     # a key given twice is refused at load
    return list(out.items())


def section(spec: dict[str, Key], takes: str) -> Check:
    """A mapping of known keys, each checked by its own entry of `spec`. A key given with no
    value is an error, never the default."""
    def check(at: _At) -> dict[str, Any]:
        entries = _entries(at, "a mapping of keys to values")
        for key, child in entries:
            if key not in spec:
                raise child.fail(f"unknown key; {takes} {', '.join(sorted(spec))}")
        out = {}
        for key, child in entries:
            if child.value is None:
                hint = "" if spec[key].required else ", or leave the key out"
                raise child.fail(f"has no value: give one{hint}")
            out[key] = spec[key].check(child)
        return out
    return check


def file_mode(at: _At) -> int:
    value = at.value
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _wrong(at, 'an octal mode such as "0600" or "0640"')
    # Unquoted, 0640 is read by YAML as the octal number 416: the digits as written are meant.
    digits = at.node.value if isinstance(value, int) else value
    try:
        mode = int(digits.strip(), 8)
    except ValueError:
        raise at.fail('must be an octal mode such as "0600" or "0640"') from None
    if mode & ~0o777 or not mode & 0o600 == 0o600:
        raise at.fail("must let the owner read and write (0600 to 0777)")
    return mode


def sheet(at: _At) -> str:
    value = at.value
    if not isinstance(value, str) or not value.strip():
        raise _wrong(at, "the name of a sheet (text)", "a sheet name")
    return value


def delimiter(at: _At) -> str:
    value = at.value
    if not isinstance(value, str) or not value:
        raise _wrong(at, "a single character (or tab)")
    value = "\t" if value in ("\\t", "tab") else value
    if len(value) != 1:
        raise at.fail("must be a single character (or tab)")
    return value


def encoding(at: _At) -> str:
    value = text()(at)
    try:
        codecs.lookup(value)
    except LookupError:
        raise at.fail(f"unknown text encoding '{value}'") from None
    return value


def columns(at: _At) -> dict[str, tuple[str, _At]]:
    """Their heading (as written) -> (our field, where it is); the fields are checked against
    the source's agency afterwards."""
    out = {}
    for heading, child in _entries(at, "a mapping of your column headings to our field names"):
        if not heading.strip():
            raise child.fail("a column heading must not be empty")
        value = child.value
        if not isinstance(value, str) or not value.strip():
            raise _wrong(child, "one of our field names (text)")
        out[heading] = (value.strip(), child)
    return out


def values(at: _At) -> dict[str, tuple[_At, dict[str, _At]]]:
    """Our field -> (where it is, their value as written -> where our value is); the values are
    checked against the field afterwards."""
    out = {}
    for fname, child in _entries(at, "a mapping of our field names to tables of values"):
        table = _entries(child, "a mapping of your values to ours")
        out[fname] = (child, dict(table))
    return out


def _criteria(at: _At) -> str:
    """A built-in set by name, or the path of a council's own YAML file."""
    name = text()(at)
    if name.endswith((".yaml", ".yml")) or "/" in name or "\\" in name:
        return str(input_file("criteria file")(at))
    if not (SETS_DIR / f"{name}.yaml").is_file():
        raise at.fail(f"unknown criteria set '{name}'; built-in sets: "
                      f"{', '.join(n for n, _ in list_builtin())}, or give the path of a YAML file")
    return name


def _outcome_settings(at: _At) -> dict[str, int]:
    # Which names a set's outcome rules take is checked when they are read (criteria/outcomes.py).
    return {name: whole(0)(child) for name, child in _entries(at, "a mapping of setting names to whole numbers")}


def _linkage(at: _At) -> dict[str, Any]:
    """Checked in full by the linkage settings' own validation, its errors placed on their line."""
    _entries(at, "a mapping of linkage settings (see docs/linkage.md)")
    value = at.value
    try:
        LinkageSettings.from_dict(value)
    except SettingError as exc:
        trail = tuple(int(i) if i else k for i, k in re.findall(r"\[(\d+)\]|([^.\[\]]+)", exc.key))
        raise at.where.error(trail, exc.reason) from None
    return value


def _outputs(at: _At) -> OutputOptions:
    opts = OutputOptions(**section(OUTPUT_SPEC, "outputs take")(at))
    if opts.pseudonymise_key is not None:
        key_at = dict(_entries(at, ""))["pseudonymise_key"]
        try:    # now, so that a run fails before any work, not when it writes
            read_key_file(opts.pseudonymise_key, permissions=opts.key_permissions)
        except ConfigError as exc:
            raise key_at.fail(exc.message) from None
    return opts


def _report(at: _At) -> ReportOptions:
    return ReportOptions(**section(REPORT_SPEC, "report takes")(at))


def _criteria_settings(at: _At) -> dict[str, Any]:
    return section({"count_needs_by": Key(text(COUNTING))}, "criteria settings are")(at)


def _plain_source_name(name: str) -> bool:
    return bool(SOURCE_NAME.fullmatch(name)) and ".." not in name


def _sources(at: _At) -> dict[str, SourceConfig]:
    entries = _entries(at, "a mapping of source names to their extracts")
    if not entries:
        raise at.fail("no sources: name at least one agency extract")
    by_case: dict[str, str] = {}
    out = {}
    for name, child in entries:
        if not _plain_source_name(name):
            shown = repr(name) if name.isprintable() and len(name) <= 80 else "the name on this line"
            raise at.where.error(at.trail, f"{shown} is not a plain name: a source's name becomes a file "
                                 "name (rejected/NAME.csv), so use letters, digits, _, - and ., starting "
                                 "with a letter or digit, at most 64 characters",
                                 line=at.where.doc.lines.get(child.trail))
        if name.casefold() in by_case:
            raise child.fail(f"differs from source {by_case[name.casefold()]} only in case: their rejected "
                             "files would be one file on some systems; rename one")
        by_case[name.casefold()] = name
        out[name] = _source(name, child)
    return out


def _source(name: str, at: _At) -> SourceConfig:
    value = at.value
    if value is None:
        raise at.fail("has no value: give the path of the extract, or its settings (path, kind, columns, ...)")
    if isinstance(at.node, yaml.ScalarNode):    # the short form: `housing: housing.csv`
        spec = {"path": SOURCE_SPEC["path"].check(at.child("path", at.node))}
    else:
        spec = section(SOURCE_SPEC, "a source takes")(at)
    kind = spec.get("kind", name)
    if kind not in AGENCY_FIELDS:
        raise at.where.error(at.trail + (("kind",) if "kind" in spec else ()),
                             f"unknown agency '{kind}'; known agencies: {', '.join(AGENCY_FIELDS)} "
                             "(give `kind:` when the source has its own name)")
    if "path" not in spec:
        raise at.fail("no `path:` to the extract")
    known = {f.name: f for f in fields_for(kind)}
    mapped = {}
    for theirs, (ours, child) in spec.get("columns", {}).items():
        if ours not in known:
            raise child.fail(f"maps to unknown field '{ours}' for a {kind} extract; fields are: {', '.join(known)}")
        mapped[theirs] = ours
    tables: dict[str, dict[str, str]] = {}
    for fname, (f_at, table) in spec.get("values", {}).items():
        if fname not in known:
            raise f_at.fail(f"unknown field for a {kind} extract")
        tables[fname] = {theirs.strip().lower(): _our_value(known[fname], child) for theirs, child in table.items()}
    spec.update(kind=kind, columns=mapped, values=tables)
    return SourceConfig(name=name, **spec)


def _our_value(f, at: _At) -> str:
    """Our value in a source's table of values, as text (blank for none)."""
    value = at.value
    if value is None:
        return ""       # their code means a blank
    if isinstance(value, bool) and f.kind == FLAG:
        return "true" if value else "false"
    if is_finite_number(value) and f.kind in (COUNT, MONEY):
        return at.node.value
    if not isinstance(value, str):
        raise _wrong(at, f"a value of {f.name} (text)", "a value")
    value = value.strip()
    if f.kind == ENUM and value and value.lower() not in {v.lower() for v in f.values}:
        raise at.fail(f"'{value}' is not an allowed {f.name}; allowed: {', '.join(f.values)}")
    return value


# The keys of each section, named as the fields of the dataclasses above.
SOURCE_SPEC: dict[str, Key] = {
    "path": Key(input_file(), required=True),
    "kind": Key(text()),
    "columns": Key(columns),
    "values": Key(values),
    "sheet": Key(sheet),
    "delimiter": Key(delimiter),
    "encoding": Key(encoding),
    "date_format": Key(text(DATE_FORMATS, lower=True)),
    "max_rejected_share": Key(share),
    "max_warning_share": Key(share),
}
OUTPUT_SPEC: dict[str, Key] = {
    "profile": Key(text(PROFILES)),
    "pseudonymise_key": Key(input_file("key file")),
    "file_mode": Key(file_mode),
    "csv_bom": Key(flag),
    "layout": Key(text(LAYOUTS)),
    "key_permissions": Key(text(KEY_PERMISSIONS)),
}
REPORT_SPEC: dict[str, Key] = {
    "min_group_size": Key(whole(1)),
}
TOP_SPEC: dict[str, Key] = {
    "as_of": Key(date, required=True),
    "criteria": Key(_criteria),
    "criteria_settings": Key(_criteria_settings),
    "outcome_settings": Key(_outcome_settings),
    "baselines": Key(input_file()),
    "sources": Key(_sources, required=True),
    "output": Key(folder, required=True),
    "max_rejected_share": Key(share),
    "max_warning_share": Key(share),
    "review_decisions": Key(input_file()),
    "linkage": Key(_linkage),
    "outputs": Key(_outputs),
    "report": Key(_report),
    "previous": Key(folder),
}
TOP_KEYS, SOURCE_KEYS, OUTPUT_KEYS = set(TOP_SPEC), set(SOURCE_SPEC), set(OUTPUT_SPEC)


def parse_as_of(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError("--as-of: not a date: write it as YYYY-MM-DD") from None


def load_config(path: str | Path, as_of: dt.date | None = None, output: str | Path | None = None) -> RunConfig:
    """Read and check a run config. `as_of` and `output` override the file (CLI options); the
    file's own values are checked all the same."""
    path = Path(path)
    doc = load_yaml_file(path, "config file")
    where = _Where(path, doc)
    if doc.duplicates:
        trail, line = doc.duplicates[0]
        raise ConfigError(f"{path}, line {line}: {key_name(trail)}: given twice; keep one")
    if not isinstance(doc.root, yaml.MappingNode) or doc.root.tag != MAP_TAG:
        raise where.error((), "the config must be a mapping with as_of, criteria, sources and output")
    top = section(TOP_SPEC, "the config takes")(_At(doc.root, (), where))

    if as_of is None:
        if "as_of" not in top:
            raise where.error((), "no `as_of:` reference date (or give --as-of)")
        as_of = top["as_of"]
    if "sources" not in top:
        raise where.error((), "no sources: name at least one agency extract")
    if output is None:
        if "output" not in top:
            raise where.error((), "no `output:` folder (or give --out)")
        output = top["output"]
    top.update(as_of=as_of, output=Path(output), criteria=top.get("criteria", DEFAULT_CRITERIA))
    return RunConfig(path=path, raw=doc.data, **top)
