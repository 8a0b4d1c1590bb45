"""The kinds of comparison-level test ({equal: fore1}, {jaro_winkler: fore1, threshold: 0.92}, ...):
one object per kind, holding its argument check, the columns it reads, its vectorised evaluation
and its label, in a registry that matching.settings and matching.compare look tests up in. A new
kind is a new class here with @register; nothing else changes.

Tests run on whole arrays of pairs (`cols` is a matching.compare.Columns, `l` and `r` record
positions); string similarity and token overlap are computed once per distinct pair of values.
String similarity is the costly part, so each distinct pair of values is first checked against a
bound computed on whole arrays (letters in common, length, shared prefix): a pair that cannot
reach the threshold is settled without calling jellyfish; the rest are computed exactly, so
results are the same as computing every pair."""
from __future__ import annotations

from typing import Any, ClassVar

import jellyfish
import numpy as np

from .setting_checks import FLAG_COLUMNS, TOKEN_COLUMNS, SettingError, column, number

_BLOCK = 250_000      # distinct value pairs handled at once by the bounds (memory stays flat)
_MARGIN = 1e-9        # bounds are compared with this slack so rounding never drops a pair


class LevelTest:
    """One kind of level test. A test is a mapping as the settings write it, the kind's name the
    key holding its main argument ({jaro_winkler: fore1, threshold: 0.92}); `check` turns the
    mapping a user wrote into that form or raises SettingError naming the key."""
    name: ClassVar[str]
    options: ClassVar[tuple[str, ...]] = ()   # keys the kind takes besides its name
    cheap: ClassVar[bool] = False              # array lookups only: no string work

    def check(self, test: dict, where: str) -> dict:
        raise NotImplementedError

    def columns(self, test: dict) -> tuple[str, ...]:
        """The standardised columns the test reads."""
        arg = test[self.name]
        return (arg,) if isinstance(arg, str) else tuple(arg)

    def evaluate(self, test: dict, cols, l: np.ndarray, r: np.ndarray) -> np.ndarray:
        """Boolean array: does the test hold for each pair (l[i], r[i])?"""
        raise NotImplementedError

    def label(self, test: dict) -> str:
        """The test in words, for people reading a model."""
        raise NotImplementedError

    def is_cheap(self, test: dict) -> bool:
        """Not worth computing once per distinct pair of values (see compare.compare_pairs)."""
        return self.cheap


KINDS: dict[str, LevelTest] = {}


def register(kind: type[LevelTest]) -> type[LevelTest]:
    """Class decorator: make a kind of test available to the settings and to compare."""
    KINDS[kind.name] = kind()
    return kind


def kind_of(test: dict) -> LevelTest:
    """The kind of a test mapping (exactly one of its keys is a kind's name)."""
    found = [KINDS[k] for k in test if k in KINDS]
    if len(found) != 1:
        raise ValueError(f"unknown level test {sorted(map(str, test))}")
    return found[0]


def check_test(t: Any, where: str) -> dict:
    """A level test as written in the settings, checked and in the form the kinds evaluate."""
    if not isinstance(t, dict) or not t:
        raise SettingError(where, "a level test must be a mapping such as {equal: fore1}")
    kinds = [k for k in t if k in KINDS]
    if len(kinds) != 1:
        raise SettingError(where, f"a level test needs exactly one of {sorted(KINDS)}")
    kind = KINDS[kinds[0]]
    # Any kind's option is tolerated on every test (and unused there), as configs were always
    # checked: refusing {equal: fore1, threshold: 0.9} would break configs that run today.
    options = {o for k in KINDS.values() for o in k.options}
    extra = set(t) - {kind.name} - options
    if extra:
        raise SettingError(f"{where}.{sorted(map(str, extra))[0]}", "unknown key in level test")
    return kind.check(t, where)


def evaluate(test: dict, cols, l: np.ndarray, r: np.ndarray) -> np.ndarray:
    return kind_of(test).evaluate(test, cols, l, r)


def columns(test: dict) -> tuple[str, ...]:
    return kind_of(test).columns(test)


def label(test: dict) -> str:
    return kind_of(test).label(test)


def is_cheap(test: dict) -> bool:
    return kind_of(test).is_cheap(test)


def object_array(items: list) -> np.ndarray:
    """An object array holding the items as they are (tuples stay whole)."""
    return np.fromiter(items, dtype=object, count=len(items))


def _columns_list(arg: Any, n: int, where: str, what: str) -> list[str]:
    if not isinstance(arg, list) or len(arg) != n:
        raise SettingError(where, f"must name {what}")
    return [column(c, where) for c in arg]


def _threshold(test: dict, where: str, kind: str) -> float:
    if "threshold" not in test:
        raise SettingError(f"{where}.threshold", f"{kind} needs a threshold")
    return number(test["threshold"], f"{where}.threshold", 0.0, 1.0)


# ---- the kinds --------------------------------------------------------------------------------

class _Combined(LevelTest):
    """A list of tests combined (all / any): checked, read and costed as its parts."""

    def check(self, test, where):
        arg = test[self.name]
        if not isinstance(arg, list) or not arg:
            raise SettingError(f"{where}.{self.name}", "must be a list of tests")
        return {self.name: [check_test(x, f"{where}.{self.name}[{i}]") for i, x in enumerate(arg)]}

    def columns(self, test):
        return tuple(c for t in test[self.name] for c in columns(t))

    def is_cheap(self, test):
        return all(is_cheap(t) for t in test[self.name])


@register
class All(_Combined):
    """{all: [tests]}: every test holds (each evaluated only where the ones before held)."""
    name = "all"

    def evaluate(self, test, cols, l, r):
        res = np.ones(len(l), dtype=bool)
        for t in test["all"]:
            idx = np.flatnonzero(res)
            if not len(idx):
                break
            res[idx] = evaluate(t, cols, l[idx], r[idx])
        return res

    def label(self, test):
        return " and ".join(label(t) for t in test["all"])


@register
class AnyOf(_Combined):
    """{any: [tests]}: at least one test holds (each evaluated only where none before held)."""
    name = "any"

    def evaluate(self, test, cols, l, r):
        res = np.zeros(len(l), dtype=bool)
        for t in test["any"]:
            idx = np.flatnonzero(~res)
            if not len(idx):
                break
            res[idx] = evaluate(t, cols, l[idx], r[idx])
        return res

    def label(self, test):
        return "(" + " or ".join(label(t) for t in test["any"]) + ")"


@register
class Missing(LevelTest):
    """{missing: [cols]}: any of the columns is missing on either side."""
    name = "missing"
    cheap = True

    def check(self, test, where):
        arg = test["missing"]
        cols = arg if isinstance(arg, list) else [arg]
        return {"missing": [column(c, f"{where}.missing") for c in cols]}

    def evaluate(self, test, cols, l, r):
        res = np.zeros(len(l), dtype=bool)
        for c in test["missing"]:
            codes, _ = cols.codes(c)
            res |= (codes[l] < 0) | (codes[r] < 0)
        return res

    def label(self, test):
        return f"{' or '.join(test['missing'])} missing on either record"


class _OneColumn(LevelTest):
    """A kind whose argument is one standardised column, perhaps of a restricted sort."""
    allowed: ClassVar[set[str] | None] = None
    allowed_what: ClassVar[str] = ""

    def check(self, test, where):
        col = column(test[self.name], f"{where}.{self.name}")
        if self.allowed is not None and col not in self.allowed:
            raise SettingError(f"{where}.{self.name}", f"must name {self.allowed_what} ({sorted(self.allowed)})")
        return {self.name: col}


@register
class Equal(_OneColumn):
    """{equal: col}: both present and equal."""
    name = "equal"
    cheap = True

    def evaluate(self, test, cols, l, r):
        codes, _ = cols.codes(test["equal"])
        cl, cr = codes[l], codes[r]
        return (cl >= 0) & (cl == cr)

    def label(self, test):
        return f"{test['equal']} equal"


@register
class FlagBoth(_OneColumn):
    """{flag_both: col}: a flag column is true on both sides."""
    name = "flag_both"
    cheap = True
    allowed, allowed_what = FLAG_COLUMNS, "a flag column"

    def evaluate(self, test, cols, l, r):
        f = cols.flag(test["flag_both"])
        return f[l] & f[r]

    def label(self, test):
        return f"{test['flag_both']} on both records"


@register
class FlagAny(_OneColumn):
    """{flag_any: col}: a flag column is true on either side."""
    name = "flag_any"
    cheap = True
    allowed, allowed_what = FLAG_COLUMNS, "a flag column"

    def evaluate(self, test, cols, l, r):
        f = cols.flag(test["flag_any"])
        return f[l] | f[r]

    def label(self, test):
        return f"{test['flag_any']} on either record"


@register
class OneSideIn(_OneColumn):
    """{one_side_in: col, values: [v, ...]}: both records have a value and exactly one of them
    is among the values (written as the column holds them: fore_canon is folded lower case).
    For a value that tells less than a name usually does: Mohammed given to every son before
    the name he is called by, recorded alone by one agency and the other name by another."""
    name = "one_side_in"
    options = ("values",)
    cheap = True

    def check(self, test, where):
        out = super().check(test, where)
        vals = test.get("values")
        if not isinstance(vals, list) or not vals or not all(isinstance(v, str) and v.strip() for v in vals):
            raise SettingError(f"{where}.values", "one_side_in needs a list of values (non-empty strings)")
        out["values"] = sorted({v.strip() for v in vals})
        return out

    def evaluate(self, test, cols, l, r):
        codes, values = cols.codes(test[self.name])
        hit = np.isin(values.astype(str), test["values"]) if len(values) else np.zeros(0, dtype=bool)
        hit = np.append(hit, False)            # code -1 (missing) reads the last entry
        cl, cr = codes[l], codes[r]
        return (cl >= 0) & (cr >= 0) & (hit[cl] != hit[cr])

    def label(self, test):
        return f"{test[self.name]}: one record's is one of {', '.join(test['values'])}, the other's not"


@register
class SourcesDiffer(LevelTest):
    """{sources_differ: true}: the two records come from different sources (agencies). One
    agency keys a person's name the same way on its rows of one day; two of its rows that
    disagree (a claim listing twin dependants) are more often two people."""
    name = "sources_differ"
    cheap = True

    def check(self, test, where):
        if test[self.name] is not True:
            raise SettingError(f"{where}.{self.name}", "must be true")
        return {self.name: True}

    def columns(self, test):
        return ("source",)

    def evaluate(self, test, cols, l, r):
        codes, _ = cols.codes("source")
        return codes[l] != codes[r]

    def label(self, test):
        return "the records come from different sources"


@register
class JaroWinkler(_OneColumn):
    """{jaro_winkler: col, threshold: t}: Jaro-Winkler similarity >= t."""
    name = "jaro_winkler"
    options = ("threshold",)

    def check(self, test, where):
        out = super().check(test, where)
        out["threshold"] = _threshold(test, where, self.name)
        return out

    def evaluate(self, test, cols, l, r):
        codes, _ = cols.codes(test["jaro_winkler"])
        return _jaro_winkler_at_least(cols, test["jaro_winkler"], codes[l], codes[r], test["threshold"])

    def label(self, test):
        return f"{test['jaro_winkler']} Jaro-Winkler similarity at least {test['threshold']:g}"


@register
class EditDistance(_OneColumn):
    """{edit_distance: col, max: k}: Damerau-Levenshtein distance <= k (both at least three
    characters; numbers such as dob_key compared as their digits)."""
    name = "edit_distance"
    options = ("max",)

    def check(self, test, where):
        out = super().check(test, where)
        out["max"] = number(test.get("max", 1), f"{where}.max", 1, 5, integer=True)
        return out

    def evaluate(self, test, cols, l, r):
        # Damerau-Levenshtein: one slip of the keyboard (a letter dropped, added, changed or
        # two swapped); values shorter than three characters must agree exactly.
        codes, _ = cols.codes(test["edit_distance"])
        return _within_edits(cols, test["edit_distance"], codes[l], codes[r], test.get("max", 1))

    def label(self, test):
        k = test.get("max", 1)
        return f"{test['edit_distance']} within {k} edit{'s' if k != 1 else ''}"


@register
class Overlap(_OneColumn):
    """{overlap: col}: the token sets share a word."""
    name = "overlap"
    allowed, allowed_what = TOKEN_COLUMNS, "a token column"

    def evaluate(self, test, cols, l, r):
        codes, values = cols.codes(test["overlap"])
        fast = _overlap(cols, test["overlap"], codes[l], codes[r])
        if fast is not None:
            return fast
        return _on_unique_pairs(codes[l], codes[r], values, lambda a, b: not set(a).isdisjoint(b))

    def label(self, test):
        return f"{test['overlap']} share a word"


@register
class Initial(_OneColumn):
    """{initial: col}: one side is a single letter, the other's initial."""
    name = "initial"

    def evaluate(self, test, cols, l, r):
        codes, values = cols.codes(test["initial"])
        fast = _initial(cols, test["initial"], codes[l], codes[r])
        if fast is not None:
            return fast
        return _on_unique_pairs(codes[l], codes[r], values,
                                lambda a, b: (len(a) == 1 or len(b) == 1) and a[0] == b[0])

    def label(self, test):
        return f"{test['initial']}: one record has only the other's initial"


class _TwoColumns(LevelTest):
    """A kind whose argument is two columns [this, other], read across the two records."""

    def check(self, test, where):
        return {self.name: _columns_list(test[self.name], 2, f"{where}.{self.name}", "two columns [this, other]")}


@register
class Swapped(_TwoColumns):
    """{swapped: [a, b]}: this record's a is the other's b and vice versa."""
    name = "swapped"

    def evaluate(self, test, cols, l, r):
        a, b = test["swapped"]
        ca, cb = cols.joint_codes(a, b)
        return (ca[l] >= 0) & (cb[l] >= 0) & (ca[l] == cb[r]) & (cb[l] == ca[r]) & (ca[l] != cb[l])

    def label(self, test):
        a, b = test["swapped"]
        return f"{a} and {b} swapped"


@register
class OverlapAcross(_TwoColumns):
    """{overlap_across: [a, b]}: one record's a tokens share a word with the other's b tokens,
    either way round."""
    name = "overlap_across"

    def check(self, test, where):
        out = super().check(test, where)
        if not set(out[self.name]) <= TOKEN_COLUMNS:
            raise SettingError(f"{where}.overlap_across", f"must name token columns ({sorted(TOKEN_COLUMNS)})")
        return out

    def evaluate(self, test, cols, l, r):
        # a word of one record's column a among the other record's column b, either way round
        # (a Somali or Arabic family name recorded as a second forename elsewhere)
        codes, values = cols.token_pair(*test["overlap_across"])
        fast = _overlap_across(cols, *test["overlap_across"], codes[l], codes[r])
        if fast is not None:
            return fast
        return _on_unique_pairs(codes[l], codes[r], values,
                                lambda x, y: not set(x[0]).isdisjoint(y[1]) or not set(x[1]).isdisjoint(y[0]))

    def label(self, test):
        a, b = test["overlap_across"]
        return f"{a} of one record share a word with {b} of the other"


@register
class Crossed(OverlapAcross):
    """{crossed: [a, b]}: each record's a tokens share a word with the other's b tokens (both
    ways round at once): names recorded in the other order, one side with an extra name."""
    name = "crossed"

    def check(self, test, where):
        out = _TwoColumns.check(self, test, where)
        if not set(out[self.name]) <= TOKEN_COLUMNS:
            raise SettingError(f"{where}.crossed", f"must name token columns ({sorted(TOKEN_COLUMNS)})")
        return out

    def evaluate(self, test, cols, l, r):
        # "Zain | Haider" and "Haider | Mohammad Zain": each first forename among the other's
        # surname words
        codes, values = cols.token_pair(*test["crossed"])
        return _on_unique_pairs(codes[l], codes[r], values,
                                lambda x, y: bool(x[0]) and bool(y[0]) and not set(x[0]).isdisjoint(y[1] or ())
                                and not set(y[0]).isdisjoint(x[1] or ()))

    def label(self, test):
        a, b = test["crossed"]
        return f"{a} of each record share a word with {b} of the other"


@register
class SwappedSimilar(_TwoColumns):
    """{swapped_similar: [a, b], threshold: t}: this record's a is similar to the other's b and
    its b to the other's a (Jaro-Winkler >= t both ways)."""
    name = "swapped_similar"
    options = ("threshold",)

    def check(self, test, where):
        arg = test[self.name]
        if not isinstance(arg, list) or len(arg) != 2:
            raise SettingError(f"{where}.swapped_similar", "must name two columns [this, other]")
        if "threshold" not in test:
            raise SettingError(f"{where}.threshold", "swapped_similar needs a threshold")
        return {self.name: [column(c, f"{where}.{self.name}") for c in arg],
                "threshold": number(test["threshold"], f"{where}.threshold", 0.0, 1.0)}

    def evaluate(self, test, cols, l, r):
        # forename and surname swapped and each then similar to the other record's (a family
        # name written first, and transliterated differently)
        codes, values = cols.token_pair(*test["swapped_similar"])
        th = test["threshold"]

        def similar(x, y):
            if not (x[0] and x[1] and y[0] and y[1]):
                return False
            return (jellyfish.jaro_winkler_similarity(x[0], y[1]) >= th
                    and jellyfish.jaro_winkler_similarity(x[1], y[0]) >= th)
        return _swapped_similar(cols, *test["swapped_similar"], codes[l], codes[r], th, similar)

    def label(self, test):
        a, b = test["swapped_similar"]
        return f"{a} and {b} swapped, each Jaro-Winkler similarity at least {test['threshold']:g}"


class _DateParts(LevelTest):
    """A kind whose argument is the three parts of a date [year, month, day]."""

    def check(self, test, where):
        return {self.name: _columns_list(test[self.name], 3, f"{where}.{self.name}",
                                         "three columns [year, month, day]")}


@register
class DateSwapped(_DateParts):
    """{date_swapped: [y, m, d]}: same year, day and month swapped."""
    name = "date_swapped"

    def evaluate(self, test, cols, l, r):
        y, m, d = (cols.ints(c) for c in test["date_swapped"])
        return (y[l] >= 0) & (y[l] == y[r]) & (m[l] == d[r]) & (d[l] == m[r]) & (m[l] != d[l])

    def label(self, test):
        y, m, d = test["date_swapped"]
        return f"{d} and {m} swapped, {y} equal"


@register
class PartsEqual(_DateParts):
    """{parts_equal: [y, m, d], at_least: k}: at least k of the three parts equal."""
    name = "parts_equal"
    options = ("at_least",)

    def check(self, test, where):
        out = super().check(test, where)
        out["at_least"] = number(test.get("at_least", 2), f"{where}.at_least", 1, 3, integer=True)
        return out

    def evaluate(self, test, cols, l, r):
        y, m, d = (cols.ints(c) for c in test["parts_equal"])
        ok = (y[l] >= 0) & (y[r] >= 0)
        n_eq = (y[l] == y[r]).astype(int) + (m[l] == m[r]) + (d[l] == d[r])
        return ok & (n_eq >= test.get("at_least", 2))

    def label(self, test):
        return f"at least {test.get('at_least', 2)} of {', '.join(test['parts_equal'])} equal"


# ---- vectorised evaluation ------------------------------------------------------------------

def _distinct_pairs(cl: np.ndarray, cr: np.ndarray, k: int):
    """(mask of pairs with both codes present, distinct left codes, distinct right codes,
    inverse mapping each present pair to its distinct pair)."""
    ok = (cl >= 0) & (cr >= 0)
    pair = cl[ok] * k + cr[ok]
    uniq, inv = np.unique(pair, return_inverse=True)
    return ok, uniq // k, uniq % k, inv


def _blocks(n: int):
    for start in range(0, n, _BLOCK):
        yield slice(start, min(start + _BLOCK, n))


def _jaro_winkler_at_least(cols, col: str, cl: np.ndarray, cr: np.ndarray, threshold: float) -> np.ndarray:
    """Equal, or jellyfish Jaro-Winkler similarity >= threshold, per pair (missing: False). Each
    distinct value pair is computed once, and remembered for the column's other thresholds."""
    out = np.zeros(len(cl), dtype=bool)
    codes, values = cols.codes(col)
    k = len(values) + 1
    ok, ua, ub, inv = _distinct_pairs(cl, cr, k)
    if not len(ua):
        return out
    feats = cols.text_features(col, values)
    res = ua == ub
    todo = np.flatnonzero(~res)
    cand = np.concatenate([todo[s][feats.jaro_winkler_bound(ua[todo[s]], ub[todo[s]]) >= threshold - _MARGIN]
                           for s in _blocks(len(todo))]) if len(todo) else todo
    if len(cand):
        sims = _similarities(cols, col, values, ua[cand], ub[cand], k)
        res[cand] = sims >= threshold
    out[ok] = res[inv]
    return out


def _similarities(cols, col: str, values: np.ndarray, a: np.ndarray, b: np.ndarray, k: int) -> np.ndarray:
    """jellyfish Jaro-Winkler similarity of value pairs (a, b), taken from or added to the
    column's memo."""
    memo_key = ("jw_memo", col)
    keys, sims = cols.memo.get(memo_key, (np.empty(0, np.int64), np.empty(0, float)))
    q = a * k + b
    pos = np.searchsorted(keys, q)
    known = pos < len(keys)
    known[known] = keys[pos[known]] == q[known]
    out = np.empty(len(q), dtype=float)
    out[known] = sims[pos[known]]
    new = np.flatnonzero(~known)
    if len(new):
        jw = jellyfish.jaro_winkler_similarity
        va, vb = values[a[new]], values[b[new]]
        out[new] = np.fromiter((jw(x, y) for x, y in zip(va, vb)), dtype=float, count=len(new))
        all_keys = np.concatenate([keys, q[new]])
        order = np.argsort(all_keys, kind="stable")
        cols.memo[memo_key] = (all_keys[order], np.concatenate([sims, out[new]])[order])
    return out


def _within_edits(cols, col: str, cl: np.ndarray, cr: np.ndarray, mx: int) -> np.ndarray:
    """Both at least three characters, and a Damerau-Levenshtein distance of at most mx."""
    out = np.zeros(len(cl), dtype=bool)
    codes, values = cols.codes(col)
    key = col
    if not all(isinstance(v, str) for v in values):
        # digits too: a date of birth as its 8-digit key, one digit mis-keyed
        values = object_array([v if isinstance(v, str) else str(v) for v in values])
        key = (col, "as text")
    k = len(values) + 1
    ok, ua, ub, inv = _distinct_pairs(cl, cr, k)
    if not len(ua):
        return out
    f = cols.text_features(key, values)
    la, lb = f.length[ua], f.length[ub]
    exact = f.exact[ua] | f.exact[ub]
    # Each edit changes the letter counts by at most two (a transposition by none).
    maybe = np.flatnonzero(exact | ((np.minimum(la, lb) >= 3) & (np.abs(la - lb) <= mx)))
    if len(maybe):
        keep = np.concatenate([maybe[s][exact[maybe[s]] | (f.letter_difference(ua[maybe[s]], ub[maybe[s]]) <= 2 * mx)]
                               for s in _blocks(len(maybe))])
        maybe = keep
    res = np.zeros(len(ua), dtype=bool)
    if len(maybe):
        dl = jellyfish.damerau_levenshtein_distance
        res[maybe] = np.fromiter((min(len(a), len(b)) >= 3 and abs(len(a) - len(b)) <= mx and dl(a, b) <= mx
                                  for a, b in zip(values[ua[maybe]], values[ub[maybe]])), dtype=bool, count=len(maybe))
    out[ok] = res[inv]
    return out


def _any_shared_token(left, right, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rows a of `left` and rows b of `right` (sparse token matrices) share a token."""
    out = np.zeros(len(a), dtype=bool)
    for s in _blocks(len(a)):
        out[s] = np.asarray(left[a[s]].multiply(right[b[s]]).sum(axis=1)).reshape(-1) > 0
    return out


def _overlap(cols, col: str, cl: np.ndarray, cr: np.ndarray) -> np.ndarray | None:
    codes, values = cols.codes(col)
    m = cols.token_matrix(col, values)
    if m is None:
        return None
    out = np.zeros(len(cl), dtype=bool)
    ok, ua, ub, inv = _distinct_pairs(cl, cr, len(values) + 1)
    out[ok] = _any_shared_token(m, m, ua, ub)[inv]
    return out


def _overlap_across(cols, a: str, b: str, cl: np.ndarray, cr: np.ndarray) -> np.ndarray | None:
    codes, values = cols.token_pair(a, b)
    m0, m1 = cols.token_matrix(("pair", a, b), values, 0), cols.token_matrix(("pair", a, b), values, 1)
    if m0 is None or m1 is None or m0.shape[1] != m1.shape[1]:
        return None
    out = np.zeros(len(cl), dtype=bool)
    ok, ua, ub, inv = _distinct_pairs(cl, cr, len(values) + 1)
    out[ok] = (_any_shared_token(m0, m1, ua, ub) | _any_shared_token(m1, m0, ua, ub))[inv]
    return out


def _swapped_similar(cols, a: str, b: str, cl: np.ndarray, cr: np.ndarray, threshold: float, similar) -> np.ndarray:
    """similar(x, y) per pair of (a, b) values, computed only where both Jaro-Winkler bounds
    (x's a against y's b, x's b against y's a) reach the threshold."""
    out = np.zeros(len(cl), dtype=bool)
    codes, values = cols.token_pair(a, b)
    n = len(values)
    ok, ua, ub, inv = _distinct_pairs(cl, cr, n + 1)
    if not len(ua):
        return out
    key = ("pair", a, b)
    if ("filled", key) not in cols.memo:
        both = np.empty(2 * n, dtype=object)
        both[:n] = [v[0] for v in values]
        both[n:] = [v[1] for v in values]
        cols.memo[("filled", key)] = np.fromiter((bool(x) for x in both), dtype=bool, count=2 * n)
        cols.text_features(key, both)
    filled, feats = cols.memo[("filled", key)], cols.text_features(key, None)
    present = np.flatnonzero(filled[ua] & filled[ua + n] & filled[ub] & filled[ub + n])
    parts = []
    for s in _blocks(len(present)):
        x, y = ua[present[s]], ub[present[s]]
        reach = ((feats.jaro_winkler_bound(x, y + n) >= threshold - _MARGIN)
                 & (feats.jaro_winkler_bound(x + n, y) >= threshold - _MARGIN))
        parts.append(present[s][reach])
    cand = np.concatenate(parts) if parts else present
    res = np.zeros(len(ua), dtype=bool)
    if len(cand):
        res[cand] = np.fromiter((similar(x, y) for x, y in zip(values[ua[cand]], values[ub[cand]])),
                                dtype=bool, count=len(cand))
    out[ok] = res[inv]
    return out


def _initial(cols, col: str, cl: np.ndarray, cr: np.ndarray) -> np.ndarray | None:
    """One side is a single letter and both start with it (None unless every value is text)."""
    codes, values = cols.codes(col)
    key = ("initial", col)
    if key not in cols.memo:
        fine = all(isinstance(v, str) and v for v in values)
        cols.memo[key] = (np.fromiter((ord(v[0]) for v in values), dtype=np.int64, count=len(values)),
                          np.fromiter((len(v) for v in values), dtype=np.int64, count=len(values))) if fine else None
    if cols.memo[key] is None:
        return None
    first, length = cols.memo[key]
    ok = (cl >= 0) & (cr >= 0)
    a, b = cl[ok], cr[ok]
    out = np.zeros(len(cl), dtype=bool)
    out[ok] = ((length[a] == 1) | (length[b] == 1)) & (first[a] == first[b])
    return out


def _on_unique_pairs(cl: np.ndarray, cr: np.ndarray, values: np.ndarray, fn) -> np.ndarray:
    """Evaluate fn(value_l, value_r) once per distinct pair of codes (both codes >= 0)."""
    out = np.zeros(len(cl), dtype=bool)
    ok = (cl >= 0) & (cr >= 0)
    if not ok.any():
        return out
    k = len(values) + 1
    pair = cl[ok] * k + cr[ok]
    uniq, inv = np.unique(pair, return_inverse=True)
    res = np.fromiter((fn(values[u // k], values[u % k]) for u in uniq), dtype=bool, count=len(uniq))
    out[ok] = res[inv]
    return out
