"""The run config (YAML): load it, check every key, and resolve paths against the config's folder.

Errors name the config file, the line and the key, so an analyst can fix them without help.
"""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from schemas.errors import ConfigError
from schemas.fields import AGENCY_FIELDS, ENUM, FLAG, fields_for

DATE_FORMATS = ("auto", "iso", "dmy", "mdy")
DEFAULT_CRITERIA = "troubled-families-2015"
DEFAULT_MAX_REJECTED_SHARE = 0.05
DEFAULT_MAX_WARNING_SHARE = 0.05

SOURCE_KEYS = {"path", "kind", "columns", "values", "sheet", "delimiter", "encoding",
               "date_format", "max_rejected_share", "max_warning_share"}
TOP_KEYS = {"as_of", "criteria", "criteria_settings", "outcome_settings", "baselines", "sources", "output", "max_rejected_share", "max_warning_share", "review_decisions",
            "linkage", "outputs", "report", "previous"}
OUTPUT_KEYS = {"profile", "pseudonymise_key", "file_mode", "csv_bom", "layout"}


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
    raw: dict[str, Any] = field(default_factory=dict)   # the config as written, for the manifest

    def rejected_limit(self, source: str) -> float:
        own = self.sources[source].max_rejected_share
        return self.max_rejected_share if own is None else own

    def warning_limit(self, source: str) -> float:
        own = self.sources[source].max_warning_share
        return self.max_warning_share if own is None else own


class _Where:
    """Line numbers of keys, read from PyYAML's node tree."""

    def __init__(self, path: Path, node: yaml.Node | None):
        self.path = path
        self.lines: dict[tuple[str, ...], int] = {}
        if node is not None:
            self._walk(node, ())

    def _walk(self, node: yaml.Node, trail: tuple[str, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = str(key_node.value)
                self.lines[trail + (key,)] = key_node.start_mark.line + 1
                self._walk(value_node, trail + (key,))

    def error(self, trail: tuple[str, ...], message: str) -> ConfigError:
        line = None
        for n in range(len(trail), 0, -1):
            line = self.lines.get(tuple(trail[:n]))
            if line:
                break
        where = f"{self.path}" + (f", line {line}" if line else "")
        key = ".".join(trail)
        return ConfigError(f"{where}: {key + ': ' if key else ''}{message}")


def _date(value: Any, where: _Where, trail: tuple[str, ...]) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise where.error(trail, "not a date: write it as YYYY-MM-DD") from None


def parse_as_of(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError("--as-of: not a date: write it as YYYY-MM-DD") from None


def _share(value: Any, where: _Where, trail: tuple[str, ...]) -> float:
    try:
        share = float(value)
    except (TypeError, ValueError):
        raise where.error(trail, "must be a number between 0 and 1") from None
    if not 0 <= share <= 1:
        raise where.error(trail, "must be a number between 0 and 1 (0.05 means 5%)")
    return share


def _mapping(value: Any, where: _Where, trail: tuple[str, ...]) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise where.error(trail, "must be a mapping of keys to values")
    return value


def _resolve(base: Path, value: Any) -> Path:
    p = Path(str(value)).expanduser()
    return Path(os.path.normpath(p if p.is_absolute() else (base / p)))


def _source(name: str, spec: Any, base: Path, where: _Where) -> SourceConfig:
    trail = ("sources", name)
    if isinstance(spec, str):
        spec = {"path": spec}
    spec = _mapping(spec, where, trail)
    unknown = set(spec) - SOURCE_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise where.error(trail + (key,), f"unknown key; a source takes {', '.join(sorted(SOURCE_KEYS))}")
    kind = str(spec.get("kind", name))
    if kind not in AGENCY_FIELDS:
        raise where.error(trail + (("kind",) if "kind" in spec else ()),
                          f"unknown agency '{kind}'; known agencies: {', '.join(AGENCY_FIELDS)} "
                          "(give `kind:` when the source has its own name)")
    if "path" not in spec:
        raise where.error(trail, "no `path:` to the extract")
    path = _resolve(base, spec["path"])
    if not path.is_file():
        raise where.error(trail + ("path",), f"file not found: {path}")
    known = {f.name: f for f in fields_for(kind)}
    columns = {}
    for theirs, ours in _mapping(spec.get("columns"), where, trail + ("columns",)).items():
        if str(ours) not in known:
            raise where.error(trail + ("columns", str(theirs)),
                              f"maps to unknown field '{ours}' for a {kind} extract; "
                              f"fields are: {', '.join(known)}")
        columns[str(theirs)] = str(ours)
    values: dict[str, dict[str, str]] = {}
    for fname, table in _mapping(spec.get("values"), where, trail + ("values",)).items():
        fname = str(fname)
        if fname not in known:
            raise where.error(trail + ("values", fname), f"unknown field for a {kind} extract")
        f = known[fname]
        table = _mapping(table, where, trail + ("values", fname))
        clean = {}
        for theirs, ours in table.items():
            ours_s = str(ours).strip() if ours is not None else ""
            if f.kind == ENUM and ours_s and ours_s.lower() not in {v.lower() for v in f.values}:
                raise where.error(trail + ("values", fname, str(theirs)),
                                  f"'{ours_s}' is not an allowed {fname}; allowed: {', '.join(f.values)}")
            if f.kind == FLAG and isinstance(ours, bool):
                ours_s = "true" if ours else "false"
            # YAML reads yes/no/true/false as booleans: compare their text as written
            key = {True: "true", False: "false"}.get(theirs, str(theirs)) if isinstance(theirs, bool) else str(theirs)
            clean[key.strip().lower()] = ours_s
        values[fname] = clean
    date_format = str(spec.get("date_format", "auto")).lower()
    if date_format not in DATE_FORMATS:
        raise where.error(trail + ("date_format",), f"must be one of {', '.join(DATE_FORMATS)}")
    delimiter = spec.get("delimiter")
    if delimiter is not None:
        delimiter = "\t" if str(delimiter) in ("\\t", "tab") else str(delimiter)
        if len(delimiter) != 1:
            raise where.error(trail + ("delimiter",), "must be a single character (or tab)")
    encoding = spec.get("encoding")
    if encoding is not None:
        import codecs
        try:
            codecs.lookup(str(encoding))
        except LookupError:
            raise where.error(trail + ("encoding",), f"unknown text encoding '{encoding}'") from None
    share = spec.get("max_rejected_share")
    warning_share = spec.get("max_warning_share")
    return SourceConfig(
        name=name, kind=kind, path=path, columns=columns, values=values,
        sheet=None if spec.get("sheet") is None else str(spec["sheet"]),
        delimiter=delimiter, encoding=None if encoding is None else str(encoding),
        date_format=date_format,
        max_rejected_share=None if share is None else _share(share, where, trail + ("max_rejected_share",)),
        max_warning_share=None if warning_share is None else _share(warning_share, where, trail + ("max_warning_share",)),
    )


def _outputs(spec: Any, base: Path, where: _Where) -> OutputOptions:
    spec = _mapping(spec, where, ("outputs",))
    unknown = set(spec) - OUTPUT_KEYS
    if unknown:
        raise where.error(("outputs", sorted(unknown)[0]), f"unknown key; outputs take {', '.join(sorted(OUTPUT_KEYS))}")
    profile = str(spec.get("profile", "full"))
    if profile not in ("full", "shareable"):
        raise where.error(("outputs", "profile"), "must be full or shareable")
    mode = spec.get("file_mode", "0600")
    try:
        file_mode = int(str(mode), 8)
    except ValueError:
        raise where.error(("outputs", "file_mode"), "must be an octal mode such as 0600 or 0640") from None
    if file_mode & ~0o777 or not file_mode & 0o600 == 0o600:
        raise where.error(("outputs", "file_mode"), "must let the owner read and write (0600 to 0777)")
    layout = str(spec.get("layout", "families-as-rows"))
    if layout not in ("families-as-rows", "families-as-columns"):
        raise where.error(("outputs", "layout"), "must be families-as-rows or families-as-columns")
    key = spec.get("pseudonymise_key")
    return OutputOptions(profile=profile, file_mode=file_mode, csv_bom=bool(spec.get("csv_bom", False)),
                         layout=layout, pseudonymise_key=None if key is None else _resolve(base, key))


def _existing(base: Path, value: Any, where: _Where, trail: tuple[str, ...]) -> Path | None:
    if value is None:
        return None
    path = _resolve(base, value)
    if not path.is_file():
        raise where.error(trail, f"file not found: {path}")
    return path


def load_config(path: str | Path, as_of: dt.date | None = None, output: str | Path | None = None) -> RunConfig:
    """Read and check a run config. `as_of` and `output` override the file (CLI options)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config file ({type(exc).__name__})") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{line}: not valid YAML ({getattr(exc, 'problem', None) or 'syntax error'})") from None
    where = _Where(path, node)
    if not isinstance(data, dict):
        raise where.error((), "the config must be a mapping with as_of, criteria, sources and output")
    unknown = set(data) - TOP_KEYS
    if unknown:
        raise where.error((sorted(unknown)[0],), f"unknown key; the config takes {', '.join(sorted(TOP_KEYS))}")
    base = path.resolve().parent

    if as_of is None:
        if "as_of" not in data:
            raise where.error((), "no `as_of:` reference date (or give --as-of)")
        as_of = _date(data["as_of"], where, ("as_of",))
    sources_spec = _mapping(data.get("sources"), where, ("sources",))
    if not sources_spec:
        raise where.error(("sources",) if "sources" in data else (), "no sources: name at least one agency extract")
    sources = {str(name): _source(str(name), spec, base, where) for name, spec in sources_spec.items()}
    if output is None:
        if "output" not in data:
            raise where.error((), "no `output:` folder (or give --out)")
        output_path = _resolve(base, data["output"])
    else:
        output_path = Path(output)
    decisions = data.get("review_decisions")
    decisions_path = None
    if decisions is not None:
        decisions_path = _resolve(base, decisions)
        if not decisions_path.is_file():
            raise where.error(("review_decisions",), f"file not found: {decisions_path}")
    criteria = str(data.get("criteria", DEFAULT_CRITERIA))
    if criteria.endswith((".yaml", ".yml")) or "/" in criteria:
        criteria_path = _resolve(base, criteria)
        if not criteria_path.is_file():
            raise where.error(("criteria",), f"criteria file not found: {criteria_path}")
        criteria = str(criteria_path)
    previous = data.get("previous")
    return RunConfig(
        path=path,
        as_of=as_of,
        criteria=criteria,
        sources=sources,
        output=output_path,
        max_rejected_share=_share(data.get("max_rejected_share", DEFAULT_MAX_REJECTED_SHARE), where, ("max_rejected_share",)),
        max_warning_share=_share(data.get("max_warning_share", DEFAULT_MAX_WARNING_SHARE), where, ("max_warning_share",)),
        review_decisions=decisions_path,
        linkage=_mapping(data.get("linkage"), where, ("linkage",)),
        outputs=_outputs(data.get("outputs"), base, where),
        previous=None if previous is None else _resolve(base, previous),
        criteria_settings=_mapping(data.get("criteria_settings"), where, ("criteria_settings",)),
        outcome_settings=_mapping(data.get("outcome_settings"), where, ("outcome_settings",)),
        baselines=_existing(base, data.get("baselines"), where, ("baselines",)),
        raw=data,
    )
