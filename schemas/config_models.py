"""One way to check every YAML config (the run config, the linkage settings, criteria sets):
pydantic models, whose first error becomes a ConfigError naming the file, the line and the
dotted key, in plain words and never with the value (a config may quote personal data)."""
from __future__ import annotations

import datetime as dt
import re
import functools
from typing import Annotated, Any, Callable, ClassVar, Union

import yaml
from pydantic import (BaseModel, BeforeValidator, ConfigDict, Discriminator, Tag, TypeAdapter, ValidationError,
                      model_validator)
from pydantic_core import PydanticCustomError

from schemas.errors import ConfigError
from schemas.yaml_loading import (IMPLICIT_SCALAR_TAGS, MAP_TAG, Trail, YamlDocument, is_finite_number,
                                  key_name, node_value, written_text)

# ---------------------------------------------------------------------------------------------
# The data a model checks: as written in the file

class _WrittenInt(int):
    text: str


class _WrittenFloat(float):
    text: str


class _WrittenDate(dt.date):
    text: str


class _WrittenDateTime(dt.datetime):
    text: str


_WRITTEN = {int: _WrittenInt, float: _WrittenFloat, dt.date: _WrittenDate, dt.datetime: _WrittenDateTime}


def as_written(value: Any) -> str | None:
    """The text a number or a date was written as in the file (a code `012345`, a mode `0640`),
    or None for a value that did not come from a file."""
    return getattr(value, "text", None)


def _written_scalar(node: yaml.ScalarNode) -> Any:
    value = node_value(node)
    kind = _WRITTEN.get(type(value))
    if kind is None or node.tag not in IMPLICIT_SCALAR_TAGS:
        return value
    if kind is _WrittenDateTime:
        out = kind(value.year, value.month, value.day, value.hour, value.minute, value.second,
                   value.microsecond, value.tzinfo)
    elif kind is _WrittenDate:
        out = kind(value.year, value.month, value.day)
    else:
        out = kind(value)
    out.text = node.value
    return out


def written_data(doc: YamlDocument) -> Any:
    """The document's data with every mapping key as written (a heading `01` stays "01", a code
    `Yes` stays "Yes"), so that an error's key is the one on the line, and every number and date
    remembering its text (as_written). A key that is not a plain scalar is refused here."""
    def build(node: yaml.Node, trail: Trail) -> Any:
        if isinstance(node, yaml.MappingNode) and node.tag == MAP_TAG:
            out = {}
            for k_node, v_node in node.value:    # `<<:` merges were flattened when the file was read
                key = written_text(k_node)
                if key is None:
                    raise located(trail, "a key must be a plain name, not a list, a mapping or a !!tag", doc,
                                  line=k_node.start_mark.line + 1)
                out[key] = build(v_node, trail + (key,))
            return out
        if isinstance(node, yaml.SequenceNode) and node.tag == "tag:yaml.org,2002:seq":
            return [build(item, trail + (i,)) for i, item in enumerate(node.value)]
        if isinstance(node, yaml.ScalarNode):
            return _written_scalar(node)
        return node_value(node)     # a !!set, !!omap, ...: the models say what they want instead
    return None if doc.root is None else build(doc.root, ())


# ---------------------------------------------------------------------------------------------
# Saying what is wrong

def found(value: Any) -> str:
    """What a wrong value is, in the user's words (never the value itself)."""
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, (set, frozenset)):
        return "a set (!!set)"
    if isinstance(value, dict):
        return "a mapping"
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


def invalid(reason: str, within: Trail = (), line_of: Trail = ()) -> PydanticCustomError:
    """An error a validator raises: `reason` in plain words; `within` the key below the one being
    checked that it is about; `line_of` a key below that whose line to give (a source name that
    cannot be shown)."""
    return PydanticCustomError("config", "{reason}", {"reason": reason, "within": tuple(within),
                                                      "line_of": tuple(line_of)})


def wrong(value: Any, want: str, quote_hint: str = "", within: Trail = ()) -> PydanticCustomError:
    """`want`, not what was found; for a number where text is wanted, how to write it as text."""
    hint = f": write it in quotes if it is {quote_hint}" if quote_hint and is_finite_number(value) else ""
    return invalid(f"must be {want}, not {found(value)}{hint}", within)


def _items(n: int) -> str:
    return f"{n} item" + ("s" if n != 1 else "")


# pydantic's own errors (structure: mappings, lists, keys), in our words.
_WORDS: dict[str, Callable[[dict], str]] = {
    "missing": lambda e: "missing: give it",
    "extra_forbidden": lambda e: "unknown key",
    "list_type": lambda e: f"must be a list, not {found(e.get('input'))}",
    "tuple_type": lambda e: f"must be a list, not {found(e.get('input'))}",
    "dict_type": lambda e: f"must be a mapping, not {found(e.get('input'))}",
    "model_type": lambda e: f"must be a mapping, not {found(e.get('input'))}",
    "string_type": lambda e: f"must be text, not {found(e.get('input'))}",
    "too_short": lambda e: f"must hold at least {_items(e['ctx']['min_length'])}",
    "too_long": lambda e: f"must hold at most {_items(e['ctx']['max_length'])}",
}


def _problem(error: dict) -> tuple[Trail, str, Trail]:
    """(trail, reason, trail whose line to give) of one pydantic error."""
    loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("<")))   # union arms
    if loc and loc[-1] == "[key]":
        return loc[:-2], "a key must be a plain name (text)", loc[:-2]
    if error["type"] == "config":
        ctx = error["ctx"]
        trail = loc + ctx["within"]
        return trail, ctx["reason"], trail + ctx["line_of"]
    words = _WORDS.get(error["type"])
    # Any other error of pydantic's is worded by it; its input is left out (it could be data).
    return loc, words(error) if words else error["msg"].split(",")[0].lower(), loc


class KeyedError(ConfigError):
    """A config error that knows its key (`trail`) and `reason`, so that a caller that read the
    value from a file can place it on its line (located)."""

    def __init__(self, message: str, trail: Trail, reason: str, line: int | None = None):
        super().__init__(message)
        self.trail = trail
        self.reason = reason
        self.line = line

    @property
    def key(self) -> str:
        return key_name(self.trail)


def trail_of(key: str) -> Trail:
    """The trail of a dotted key as key_name writes it (linkage.blocking.passes[0].keys)."""
    return tuple(int(i) if i else k for i, k in re.findall(r"\[(\d+)\]|([^.\[\]]+)", key))


def located(trail: Trail, reason: str, doc: YamlDocument | None = None, *, line: int | None = None,
            line_of: Trail | None = None, origin: str | None = None) -> KeyedError:
    """The error `file, line N: key: reason` (or `key: reason` without a file)."""
    origin = origin or (doc.origin if doc is not None else None)
    if doc is not None and line is None:
        line = doc.line(tuple(line_of or trail))
        if line is None and doc.root is not None:
            line = doc.root.start_mark.line + 1
    key = key_name(trail)
    where = "" if origin is None else f"{origin}" + (f", line {line}" if line else "") + ": "
    return KeyedError(f"{where}{key + ': ' if key else ''}{reason}", tuple(trail), reason, line)


@functools.lru_cache(maxsize=None)
def _adapter(model: Any) -> TypeAdapter:
    return TypeAdapter(model)


def check(model: Any, data: Any, doc: YamlDocument | None = None, *, prefix: Trail = (),
          context: dict | None = None, origin: str | None = None) -> Any:
    """`data` checked by `model` (a model, or a model with validators that make what the code
    reads from it), its keys at `prefix` in the file. The first mistake in the file (the lowest
    line; the first found without a file) is raised as a KeyedError."""
    try:
        return _adapter(model).validate_python(data, context=context)
    except ValidationError as exc:
        problems = [_problem(e) for e in exc.errors(include_url=False)]
    errors = [located(prefix + trail, reason, doc, line_of=prefix + line_of, origin=origin)
              for trail, reason, line_of in problems]
    errors.sort(key=lambda err: err.line or 0)     # stable: without a file, the first found
    raise errors[0] from None


# ---------------------------------------------------------------------------------------------
# Models and the plain values in them

class ConfigModel(BaseModel):
    """A mapping of known keys. An unknown key is refused naming the keys there are; with
    `blank_is_error`, a key given with no value is an error, never the default."""
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)
    takes: ClassVar[str] = "it takes"               # "outputs take": how the keys are listed
    blank_is_error: ClassVar[bool] = True
    required_keys: ClassVar[frozenset[str]] = frozenset()   # no "or leave the key out" for these
    want: ClassVar[str] = "a mapping of keys to values"

    @classmethod
    def short_form(cls, data: Any) -> Any:
        """A value written in place of the mapping (`housing: housing.csv`) as the mapping."""
        return data

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        data = cls.short_form(data)
        if not isinstance(data, dict):
            raise wrong(data, cls.want)
        for key, value in data.items():
            if key not in cls.model_fields:
                raise invalid(f"unknown key; {cls.takes} {', '.join(sorted(cls.model_fields))}", (key,))
            if value is None and cls.blank_is_error:
                hint = "" if key in cls.required_keys else ", or leave the key out"
                raise invalid(f"has no value: give one{hint}", (key,))
        return data


def under(key: str | int, fn: Callable[..., Any], *args: Any) -> Any:
    """fn(*args), its errors placed one key down (`key`)."""
    try:
        return fn(*args)
    except PydanticCustomError as exc:
        if exc.type != "config":
            raise
        raise invalid(exc.context["reason"], (key,) + exc.context["within"], exc.context["line_of"]) from None


def word_or(mapping: Any, word: Any) -> Any:
    """A value written either as a word or as a mapping (`window: any_time`, `window: {last_months:
    12}`), each checked by its own type."""
    return Annotated[Union[Annotated[mapping, Tag("<mapping>")], Annotated[word, Tag("<word>")]],
                     Discriminator(lambda v: "<mapping>" if isinstance(v, dict) else "<word>")]


def _plain(fn: Callable[[Any], Any]) -> Any:
    """A value type checked by `fn` alone (its words, never pydantic's)."""
    return Annotated[Any, BeforeValidator(fn)]


def text_check(choices: tuple[str, ...] = (), lower: bool = False) -> Callable[[Any], str]:
    def check_text(value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise wrong(value, f"one of {', '.join(choices)}" if choices else "text")
        value = value.strip().lower() if lower else value.strip()
        if choices and value not in choices:
            raise invalid(f"must be one of {', '.join(choices)}")
        return value
    return check_text


def whole_check(minimum: int | None = None, maximum: int | None = None) -> Callable[[Any], int]:
    """A whole number in range; 4.0e5 is 400000 (a float that is whole is taken as it)."""
    if maximum is not None:
        want = f"a whole number from {minimum} to {maximum}"
    else:
        want = "a whole number" + (f", {minimum} or more" if minimum is not None else "")

    def check_whole(value: Any) -> int:
        if not is_finite_number(value) or not float(value).is_integer():
            raise wrong(value, want)
        if minimum is not None and value < minimum or maximum is not None and value > maximum:
            raise invalid(f"must be {want}")
        return int(value)
    return check_whole


def _number_check(minimum: float | None = None, maximum: float | None = None, *, above: bool = False,
                  note: str = "", as_given: bool = False) -> Callable[[Any], float]:
    """A finite number in [minimum, maximum] (strictly inside with `above`); `note` helps read
    it ("0.05 means 5%"). A float, or with `as_given` a whole number stays an int."""
    if minimum is not None and maximum is not None:
        want = f"a number {'strictly ' if above else ''}between {minimum:g} and {maximum:g}"
    elif minimum is not None:
        want = f"a number, {minimum:g} or more"
    else:
        want = "a number"

    def check_number(value: Any) -> float:
        if not is_finite_number(value):
            raise wrong(value, want)
        low = minimum is not None and (value <= minimum if above else value < minimum)
        high = maximum is not None and (value >= maximum if above else value > maximum)
        if low or high:
            raise invalid(f"must be {want}{f' ({note})' if note else ''}")
        return int(value) if as_given and isinstance(value, int) else float(value)
    return check_number


def _check_flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise wrong(value, "true or false")
    return value


Text = _plain(text_check())
Flag = _plain(_check_flag)


def Choice(*choices: str, lower: bool = False) -> Any:
    return _plain(text_check(choices, lower))


def Whole(minimum: int | None = None, maximum: int | None = None) -> Any:
    return _plain(whole_check(minimum, maximum))


def Number(minimum: float | None = None, maximum: float | None = None, *, above: bool = False,
           note: str = "", as_given: bool = False) -> Any:
    return _plain(_number_check(minimum, maximum, above=above, note=note, as_given=as_given))

