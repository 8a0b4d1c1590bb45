"""The run config (YAML): load it, check every key, and resolve paths against the config's folder.

Every key is declared once, as a field of the models below (schemas.config_models), with the
check its value must pass. Errors name the config file, the line and the key, so an analyst can
fix them without help.
"""
from __future__ import annotations

import codecs
import datetime as dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Optional

from pydantic import AfterValidator, BeforeValidator, ValidationInfo, model_validator

from criteria.demand import (DEFAULT_COSTS, DEFAULT_PRICE_YEAR, DEFAULT_WINDOW_MONTHS, deflator_years,
                             list_builtin_costs, load_deflators)
from criteria.language import COUNTING, SETS_DIR, list_builtin
from matching.settings import LinkageSettings
from matching.spark.engine import spark_installed
from matching.workers import all_cores
from pipeline.source_parts import is_pattern, source_parts
from schemas.config_models import (Choice, ConfigModel, Flag, KeyedError, Number, Text, Whole, as_written, check,
                                   invalid, located, text_check, whole_check, written_data, wrong)
from schemas.errors import ConfigError
from schemas.fields import AGENCY_FIELDS, COUNT, ENUM, FLAG, MONEY, Field, fields_for
from schemas.yaml_loading import file_problem, is_finite_number, key_name, load_yaml_file, read_key_file

DATE_FORMATS = ("auto", "iso", "dmy", "mdy")
DEFAULT_CRITERIA = "troubled-families-2015"
DEFAULT_MAX_REJECTED_SHARE = 0.05
DEFAULT_MAX_WARNING_SHARE = 0.05
DEFAULT_MIN_GROUP_SIZE = 10
MAX_WORKERS = 256
PROFILES = ("full", "shareable")
LAYOUTS = ("families-as-rows", "families-as-columns")
ENGINES = ("local", "spark")     # where the linkage stages run (matching/spark/ for spark)
KEY_PERMISSIONS = ("warn", "refuse")
# A source's name becomes a file name (rejected/NAME.csv): nothing that could leave the folder.
SOURCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


# ---------------------------------------------------------------------------------------------
# Values: each check takes the value as written and returns what the config holds

def _resolve(base: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return Path(os.path.normpath(p if p.is_absolute() else (base / p)))


def _path_text(value: Any, info: ValidationInfo, what: str) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise wrong(value, f"the path of {what} (text)", f"{what} name")
    if "\0" in value:
        raise invalid("a path must not hold a NUL character")
    return _resolve(info.context["base"], value)


def _folder(value: Any, info: ValidationInfo) -> Path:
    return _path_text(value, info, "a folder")


def _input_file(noun: str = "file"):
    """A file the run reads: it must be there and be a regular file (never a pipe or a device,
    which could hang the run or never end)."""
    def check_file(value: Any, info: ValidationInfo) -> Path:
        path = _path_text(value, info, "a file")
        problem = file_problem(path)
        if problem is not None:
            raise invalid(f"{problem.replace('file not found', f'{noun} not found')}: {path}")
        return path
    return check_file


def _source_path(value: Any, info: ValidationInfo) -> Path:
    """An extract: a file, or a folder or glob of Parquet parts (checked by source_parts)."""
    path = _path_text(value, info, "a file")
    if is_pattern(path) or path.is_dir():
        source_parts(path)
        return path
    return _input_file()(value, info)


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        raise invalid("not a date: write it as YYYY-MM-DD, without a time")
    if isinstance(value, dt.date):
        return dt.date(value.year, value.month, value.day)
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
        raise invalid("not a date: write it as YYYY-MM-DD")
    raise wrong(value, "a date: write it as YYYY-MM-DD")


def _file_mode(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise wrong(value, 'an octal mode such as "0600" or "0640"')
    # Unquoted, 0640 is read by YAML as the octal number 416: the digits as written are meant.
    digits = (as_written(value) or str(value)) if isinstance(value, int) else value
    try:
        mode = int(digits.strip(), 8)
    except ValueError:
        raise invalid('must be an octal mode such as "0600" or "0640"') from None
    if mode & ~0o777 or not mode & 0o600 == 0o600:
        raise invalid("must let the owner read and write (0600 to 0777)")
    return mode


def _sheet(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise wrong(value, "the name of a sheet (text)", "a sheet name")
    return value


def _delimiter(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise wrong(value, "a single character (or tab)")
    value = "\t" if value in ("\\t", "tab") else value
    if len(value) != 1:
        raise invalid("must be a single character (or tab)")
    return value


def _encoding(value: Any) -> str:
    value = text_check()(value)
    try:
        codecs.lookup(value)
    except LookupError:
        raise invalid(f"unknown text encoding '{value}'") from None
    return value


def _columns(value: Any) -> dict[str, str]:
    """Their heading (as written) -> our field; the fields are checked against the source's
    agency afterwards."""
    if not isinstance(value, dict):
        raise wrong(value, "a mapping of your column headings to our field names")
    out = {}
    for heading, ours in value.items():
        if not heading.strip():
            raise invalid("a column heading must not be empty", (heading,))
        if not isinstance(ours, str) or not ours.strip():
            raise wrong(ours, "one of our field names (text)", within=(heading,))
        out[heading] = ours.strip()
    return out


def _values(value: Any) -> dict[str, dict[str, Any]]:
    """Our field -> their value as written -> ours; checked against the field afterwards."""
    if not isinstance(value, dict):
        raise wrong(value, "a mapping of our field names to tables of values")
    for fname, table in value.items():
        if not isinstance(table, dict):
            raise wrong(table, "a mapping of your values to ours", within=(fname,))
    return value


def _criteria(value: Any, info: ValidationInfo) -> str:
    """A built-in set by name, or the path of a council's own YAML file."""
    name = text_check()(value)
    if name.endswith((".yaml", ".yml")) or "/" in name or "\\" in name:
        return str(_input_file("criteria file")(value, info))
    if not (SETS_DIR / f"{name}.yaml").is_file():
        raise invalid(f"unknown criteria set '{name}'; built-in sets: "
                      f"{', '.join(n for n, _ in list_builtin())}, or give the path of a YAML file")
    return name


def _mapping(want: str):
    def check_mapping(value: Any) -> dict:
        if not isinstance(value, dict):
            raise wrong(value, want)
        return value
    return check_mapping


def _linkage(value: Any) -> dict[str, Any]:
    """Checked in full by the linkage settings' own models, their errors placed on their line."""
    if not isinstance(value, dict):
        raise wrong(value, "a mapping of linkage settings (see docs/linkage.md)")
    try:
        LinkageSettings.from_dict(value)
    except KeyedError as exc:
        raise invalid(exc.reason, exc.trail[1:]) from None    # its trail starts at `linkage`
    return value


def _plain_source_name(name: str) -> bool:
    return bool(SOURCE_NAME.fullmatch(name)) and ".." not in name


def _source_names(value: Any) -> Any:
    if not isinstance(value, dict):
        raise wrong(value, "a mapping of source names to their extracts")
    if not value:
        raise invalid("no sources: name at least one agency extract")
    by_case: dict[str, str] = {}
    for name in value:
        if not _plain_source_name(name):
            shown = repr(name) if name.isprintable() and len(name) <= 80 else "the name on this line"
            raise invalid(f"{shown} is not a plain name: a source's name becomes a file name "
                          "(rejected/NAME.csv), so use letters, digits, _, - and ., starting with a letter "
                          "or digit, at most 64 characters", line_of=(name,))
        if name.casefold() in by_case:
            raise invalid(f"differs from source {by_case[name.casefold()]} only in case: their rejected files "
                          "would be one file on some systems; rename one", (name,))
        by_case[name.casefold()] = name
    return value


# ---------------------------------------------------------------------------------------------
# The sections

class OutputOptions(ConfigModel):
    takes = "outputs take"
    profile: Choice(*PROFILES) = "full"
    pseudonymise_key: Annotated[Optional[Path], BeforeValidator(_input_file("key file"))] = None
    file_mode: Annotated[int, BeforeValidator(_file_mode)] = 0o600
    csv_bom: Flag = False
    layout: Choice(*LAYOUTS) = "families-as-rows"
    workbook: Flag = False      # also need_matrix.xlsx: matrix, evidence, members (and changes) as sheets
    key_permissions: Choice(*KEY_PERMISSIONS) = "warn"   # a key others can read: warn | refuse

    @model_validator(mode="after")
    def _key_is_readable(self) -> "OutputOptions":
        if self.pseudonymise_key is not None:
            try:    # now, so that a run fails before any work, not when it writes
                read_key_file(self.pseudonymise_key, permissions=self.key_permissions)
            except ConfigError as exc:
                raise invalid(exc.message, ("pseudonymise_key",)) from None
        return self


class ReportOptions(ConfigModel):
    takes = "report takes"
    min_group_size: Whole(1) = DEFAULT_MIN_GROUP_SIZE   # smallest group in linkage quality by group
    # A CSV of postcode, area_code[, area_name] (a ward or LSOA, as the ONS postcode directories
    # give them): the report's areas table groups families by it.
    area_lookup: Annotated[Optional[Path], BeforeValidator(_input_file("area lookup"))] = None
    # The council's wording of the criteria's headline labels ({criterion name: label}), shown
    # wherever a criterion is named; the names are checked against the criteria set at the run.
    headline_labels: dict[Text, Text] = {}


def _costs(value: Any, info: ValidationInfo) -> str:
    """A built-in unit-cost table by name, or the path of a council's own YAML file."""
    name = text_check()(value)
    if name.endswith((".yaml", ".yml")) or "/" in name or "\\" in name:
        return str(_input_file("unit-cost table")(value, info))
    if name not in list_builtin_costs():
        raise invalid(f"unknown unit-cost table '{name}'; built-in tables: {', '.join(list_builtin_costs())}, "
                      "or give the path of a YAML file")
    return name


def _price_year(value: Any) -> int:
    year = whole_check(1900, 2100)(value)
    deflators = load_deflators()
    if year not in deflators:
        raise invalid(f"no GDP deflator for {year} in the built-in table (years: {deflator_years(deflators)})")
    return year


class DemandOptions(ConfigModel):
    """Service demand and its estimated cost (criteria/demand.py)."""
    takes = "demand takes"
    window_months: Whole(1, 120) = DEFAULT_WINDOW_MONTHS
    costs: Annotated[str, BeforeValidator(_costs)] = DEFAULT_COSTS
    price_year: Annotated[int, BeforeValidator(_price_year)] = DEFAULT_PRICE_YEAR


def _spark_conf(value: Any) -> dict[str, str]:
    """Spark properties as Spark takes them: names to text (numbers and flags written as text)."""
    if not isinstance(value, dict):
        raise wrong(value, "a mapping of Spark property names to values")
    out = {}
    for key, v in value.items():
        if not isinstance(key, str) or not key.strip():
            raise wrong(key, "a Spark property name")
        if isinstance(v, bool):
            v = "true" if v else "false"
        elif is_finite_number(v):
            v = str(v)
        elif not isinstance(v, str) or not v.strip():
            raise invalid("must be text, a number or true/false", (key,))
        out[key.strip()] = v.strip()
    return out


class SparkOptions(ConfigModel):
    """Where the Spark engine runs (matching/spark/): a master URL and Spark properties."""
    takes = "spark takes"
    master: Text = "local[2]"
    conf: Annotated[dict[str, str], BeforeValidator(_spark_conf)] = {}


class _CriteriaSettings(ConfigModel):
    takes = "criteria settings are"
    count_needs_by: Choice(*COUNTING) = "criteria"


_Share = Number(0, 1, note="0.05 means 5%")


class _Source(ConfigModel):
    """One source as written; `housing: housing.csv` is short for `housing: {path: housing.csv}`."""
    takes = "a source takes"
    required_keys = frozenset({"path"})
    path: Annotated[Optional[Path], BeforeValidator(_source_path)] = None
    kind: Optional[Text] = None
    columns: Annotated[dict[str, str], BeforeValidator(_columns)] = {}
    values: Annotated[dict[str, dict[str, Any]], BeforeValidator(_values)] = {}
    sheet: Annotated[Optional[str], BeforeValidator(_sheet)] = None
    delimiter: Annotated[Optional[str], BeforeValidator(_delimiter)] = None
    encoding: Annotated[Optional[str], BeforeValidator(_encoding)] = None
    date_format: Choice(*DATE_FORMATS, lower=True) = "auto"
    max_rejected_share: Optional[_Share] = None
    max_warning_share: Optional[_Share] = None

    @classmethod
    def short_form(cls, data: Any) -> Any:
        if data is None:
            raise invalid("has no value: give the path of the extract, or its settings (path, kind, columns, ...)")
        return data if isinstance(data, (dict, list, set)) else {"path": data}


def _our_value(f: Field, value: Any, within: tuple) -> str:
    """Our value in a source's table of values, as text (blank for none)."""
    if value is None:
        return ""       # their code means a blank
    if isinstance(value, bool) and f.kind == FLAG:
        return "true" if value else "false"
    if is_finite_number(value) and f.kind in (COUNT, MONEY):
        return as_written(value) or str(value)
    if not isinstance(value, str):
        raise wrong(value, f"a value of {f.name} (text)", "a value", within=within)
    value = value.strip()
    if f.kind == ENUM and value and value.lower() not in {v.lower() for v in f.values}:
        raise invalid(f"'{value}' is not an allowed {f.name}; allowed: {', '.join(f.values)}", within)
    return value


def _source_configs(sources: dict[str, _Source]) -> dict[str, SourceConfig]:
    """Each source with its agency, checked against that agency's fields."""
    out = {}
    for name, src in sources.items():
        kind = src.kind or name
        if kind not in AGENCY_FIELDS:
            raise invalid(f"unknown agency '{kind}'; known agencies: {', '.join(AGENCY_FIELDS)} "
                          "(give `kind:` when the source has its own name)", (name,) + (("kind",) if src.kind else ()))
        if src.path is None:
            raise invalid("no `path:` to the extract", (name,))
        known = {f.name: f for f in fields_for(kind)}
        for theirs, ours in src.columns.items():
            if ours not in known:
                raise invalid(f"maps to unknown field '{ours}' for a {kind} extract; fields are: {', '.join(known)}",
                              (name, "columns", theirs))
        tables: dict[str, dict[str, str]] = {}
        for fname, table in src.values.items():
            if fname not in known:
                raise invalid(f"unknown field for a {kind} extract", (name, "values", fname))
            tables[fname] = {theirs.strip().lower(): _our_value(known[fname], v, (name, "values", fname, theirs))
                             for theirs, v in table.items()}
        out[name] = SourceConfig(name=name, kind=kind, path=src.path, parts=source_parts(src.path),
                                 columns=dict(src.columns), values=tables,
                                 sheet=src.sheet, delimiter=src.delimiter, encoding=src.encoding,
                                 date_format=src.date_format, max_rejected_share=src.max_rejected_share,
                                 max_warning_share=src.max_warning_share)
    return out


def _paths(check_path) -> Any:
    return Annotated[Optional[Path], BeforeValidator(check_path)]


class _RunFile(ConfigModel):
    """The run config as written."""
    takes = "the config takes"
    required_keys = frozenset({"as_of", "sources", "output"})
    want = "a mapping with as_of, criteria, sources and output"
    as_of: Annotated[Optional[dt.date], BeforeValidator(_date)] = None
    criteria: Annotated[str, BeforeValidator(_criteria)] = DEFAULT_CRITERIA
    criteria_settings: _CriteriaSettings = _CriteriaSettings()
    # Which names a set's outcome rules take is checked when they are read (criteria/outcomes.py).
    outcome_settings: Annotated[dict[str, Whole(0)],
                                BeforeValidator(_mapping("a mapping of setting names to whole numbers"))] = {}
    baselines: _paths(_input_file()) = None
    sources: Optional[Annotated[dict[str, _Source], BeforeValidator(_source_names),
                                AfterValidator(_source_configs)]] = None
    output: _paths(_folder) = None
    max_rejected_share: _Share = DEFAULT_MAX_REJECTED_SHARE
    max_warning_share: _Share = DEFAULT_MAX_WARNING_SHARE
    review_decisions: _paths(_input_file()) = None
    linkage: Annotated[dict[str, Any], BeforeValidator(_linkage)] = {}
    outputs: OutputOptions = OutputOptions()
    report: ReportOptions = ReportOptions()
    demand: DemandOptions = DemandOptions()
    previous: _paths(_folder) = None
    # Processes for comparing pairs and standardising values (the outputs do not depend on it);
    # not given: every core the run may use.
    workers: Optional[Whole(1, MAX_WORKERS)] = None
    # Where the linkage stages run: embedded (local) or on Apache Spark (matching/spark/).
    engine: Choice(*ENGINES) = "local"
    spark: SparkOptions = SparkOptions()


TOP_KEYS, SOURCE_KEYS, OUTPUT_KEYS = set(_RunFile.model_fields), set(_Source.model_fields), set(OutputOptions.model_fields)


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
    parts: tuple[Path, ...] = ()         # a folder or glob of Parquet parts: its files, in reading order

    @property
    def files(self) -> tuple[Path, ...]:
        """The files the source reads: its parts, or its one file."""
        return self.parts or (self.path,)


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
    demand: DemandOptions = field(default_factory=DemandOptions)
    workers: int = 1
    engine: str = "local"
    spark: SparkOptions = field(default_factory=SparkOptions)
    raw: dict[str, Any] = field(default_factory=dict)   # the config as written, for the manifest

    def rejected_limit(self, source: str) -> float:
        own = self.sources[source].max_rejected_share
        return self.max_rejected_share if own is None else own

    def warning_limit(self, source: str) -> float:
        own = self.sources[source].max_warning_share
        return self.max_warning_share if own is None else own


def parse_as_of(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError("--as-of: not a date: write it as YYYY-MM-DD") from None


def load_config(path: str | Path, as_of: dt.date | None = None, output: str | Path | None = None,
                engine: str | None = None) -> RunConfig:
    """Read and check a run config. `as_of`, `output` and `engine` override the file (CLI
    options); the file's own values are checked all the same."""
    path = Path(path)
    doc = load_yaml_file(path, "config file")
    if doc.duplicates:
        trail, line = doc.duplicates[0]
        raise ConfigError(f"{path}, line {line}: {key_name(trail)}: given twice; keep one")
    top = check(_RunFile, written_data(doc), doc, context={"base": path.resolve().parent})
    if as_of is None:
        if top.as_of is None:
            raise located((), "no `as_of:` reference date (or give --as-of)", doc)
        as_of = top.as_of
    if top.sources is None:
        raise located((), "no sources: name at least one agency extract", doc)
    if output is None:
        if top.output is None:
            raise located((), "no `output:` folder (or give --out)", doc)
        output = top.output
    engine = engine or top.engine
    if engine not in ENGINES:
        raise ConfigError(f"--engine: unknown engine '{engine}'; engines: {', '.join(ENGINES)}")
    if engine == "spark" and not spark_installed():
        raise located(("engine",) if top.engine == "spark" else (), "engine spark needs PySpark, which is not installed "
                      "here: pip install 'hnf-match[spark]' (or use engine: local)", doc)
    # The linkage section as YAML read it (plain numbers): the settings are made from it at run time.
    linkage = doc.data.get("linkage", {})
    return RunConfig(path=path, as_of=as_of, criteria=top.criteria, sources=top.sources, output=Path(output),
                     max_rejected_share=top.max_rejected_share, max_warning_share=top.max_warning_share,
                     review_decisions=top.review_decisions, linkage=linkage, outputs=top.outputs,
                     previous=top.previous, criteria_settings=top.criteria_settings.model_dump(exclude_unset=True),
                     outcome_settings=top.outcome_settings, baselines=top.baselines, report=top.report,
                     demand=top.demand,
                     workers=top.workers if top.workers is not None else all_cores(),
                     engine=engine, spark=top.spark, raw=doc.data)
