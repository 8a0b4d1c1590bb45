"""Clustering accepted links into persons: connected components, then a guard. A component
that would give one person two NHS/NI/UPN values, incompatible dates of birth, two records
of a one-record-per-person extract or a pair an analyst called a non-match is rebuilt from
its strongest links down, skipping each link that would create the conflict."""
from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .compare import Columns, comparison_levels
from .settings import LinkageSettings


def components(n: int, l: np.ndarray, r: np.ndarray) -> np.ndarray:
    if n == 0:
        return np.empty(0, np.int64)
    g = coo_matrix((np.ones(len(l), dtype=np.int8), (l, r)), shape=(n, n))
    _, labels = connected_components(g, directed=False)
    return labels.astype(np.int64)


class _Guard:
    """What a person may not hold twice, for the records of the conflicted components."""

    def __init__(self, std: pd.DataFrame, cols: Columns, settings: LinkageSettings, cannot: dict[int, set[int]],
                 years_apart: int | None = None):
        self.years_apart = years_apart
        self.year = pd.to_numeric(std["dob_year"], errors="coerce").to_numpy(dtype=np.float64)
        self.ids = {c: cols.codes(c)[0] for c in settings.clustering["unique_identifiers"]}
        self.dob = cols.codes("dob_key")[0]
        self.cols = cols
        self.settings = settings
        self.single = set(settings.clustering["single_record_sources"])
        self.source = std["source"].to_numpy()
        self.cannot = cannot
        dob_comp = next((c for c in settings.comparisons if c.name == "dob"), None)
        self.dob_comp = dob_comp
        self.ok_levels = set()
        if dob_comp is not None:
            self.ok_levels = {i for i, lv in enumerate(dob_comp.levels)
                              if lv.is_null or lv.label in settings.clustering["compatible_dob_levels"]}
        self._dob_ok: dict[tuple[int, int], bool] = {}

    def prepare_dobs(self, labels: np.ndarray, records: np.ndarray) -> set[int]:
        """Compatibility of every two distinct dates of birth held within one component (only
        within: the number of pairs stays small). Returns the components holding an
        incompatible pair."""
        if self.dob_comp is None or not len(records):
            return set()
        f = pd.DataFrame({"comp": labels[records], "dob": self.dob[records], "rec": records})
        f = f[f["dob"] >= 0].drop_duplicates(["comp", "dob"])
        pairs = f.merge(f, on="comp", suffixes=("_a", "_b"))
        pairs = pairs[pairs["dob_a"] < pairs["dob_b"]]
        if not len(pairs):
            return set()
        lv = comparison_levels(self.dob_comp, self.cols, pairs["rec_a"].to_numpy(), pairs["rec_b"].to_numpy())
        ok = np.isin(lv, list(self.ok_levels))
        if self.years_apart is not None:   # no households: only dates of birth years apart conflict
            gap = np.abs(self.year[pairs["rec_a"].to_numpy()] - self.year[pairs["rec_b"].to_numpy()])
            ok |= ~(gap >= self.years_apart)
        for a, b, x in zip(pairs["dob_a"].to_numpy(), pairs["dob_b"].to_numpy(), ok):
            self._dob_ok[(int(a), int(b))] = bool(x)
            self._dob_ok[(int(b), int(a))] = bool(x)
        return set(pairs["comp"].to_numpy()[~ok].tolist())

    def state(self, rec: int) -> dict:
        st = {"ids": {c: ({int(v[rec])} if v[rec] >= 0 else set()) for c, v in self.ids.items()},
              "dobs": {int(self.dob[rec])} if self.dob[rec] >= 0 else set(),
              "single": {self.source[rec]: 1} if self.source[rec] in self.single else {},
              "members": {rec}}
        return st

    def conflict(self, a: dict, b: dict) -> bool:
        for c in self.ids:
            if a["ids"][c] and b["ids"][c] and a["ids"][c] != b["ids"][c]:
                return True
        for x in a["dobs"]:
            for y in b["dobs"]:
                if x != y and not self._dob_ok.get((x, y), True):
                    return True
        if set(a["single"]) & set(b["single"]):
            return True
        small, big = (a, b) if len(a["members"]) <= len(b["members"]) else (b, a)
        for rec in small["members"]:
            if self.cannot.get(rec, set()) & big["members"]:
                return True
        return False

    @staticmethod
    def merge(a: dict, b: dict) -> dict:
        for c in a["ids"]:
            a["ids"][c] |= b["ids"][c]
        a["dobs"] |= b["dobs"]
        for k, v in b["single"].items():
            a["single"][k] = a["single"].get(k, 0) + v
        a["members"] |= b["members"]
        return a


def conflicted_components(labels: np.ndarray, std: pd.DataFrame, cols: Columns, settings: LinkageSettings,
                          cannot_pairs: tuple[np.ndarray, np.ndarray], years_apart: int | None = None) -> np.ndarray:
    """Component labels that break a rule (vectorised checks; dates of birth checked per
    distinct value pair only for components holding more than one)."""
    frame = pd.DataFrame({"comp": labels})
    sizes = np.bincount(labels)
    multi = sizes[labels] > 1
    bad: set[int] = set()
    sub = frame[multi]
    for c in settings.clustering["unique_identifiers"]:
        codes = cols.codes(c)[0][multi]
        s = pd.Series(np.where(codes >= 0, codes, np.nan), index=sub.index)
        nun = s.groupby(sub["comp"]).nunique()
        bad |= set(nun.index[nun > 1].tolist())
    for src in settings.clustering["single_record_sources"]:
        m = (std["source"].to_numpy()[multi] == src)
        cnt = pd.Series(m, index=sub.index).groupby(sub["comp"]).sum()
        bad |= set(cnt.index[cnt > 1].tolist())
    cl, cr = cannot_pairs
    if len(cl):
        same = labels[cl] == labels[cr]
        bad |= set(labels[cl][same].tolist())
    dob = cols.codes("dob_key")[0][multi]
    s = pd.Series(np.where(dob >= 0, dob, np.nan), index=sub.index)
    nun = s.groupby(sub["comp"]).nunique()
    several = set(nun.index[nun > 1].tolist()) - bad
    if several:
        guard = _Guard(std, cols, settings, {}, years_apart)
        recs = np.flatnonzero(np.isin(labels, list(several)))
        bad |= guard.prepare_dobs(labels, recs)
    return np.array(sorted(bad), dtype=np.int64)


def cluster_persons(n: int, l: np.ndarray, r: np.ndarray, strength: np.ndarray, std: pd.DataFrame, cols: Columns,
                    settings: LinkageSettings, cannot_pairs: tuple[np.ndarray, np.ndarray] | None = None,
                    years_apart: int | None = None, find_components=None) -> tuple[np.ndarray, dict]:
    """Person label per record from accepted links (l, r) ordered by strength (higher first;
    clerical matches should carry the highest). Returns (labels, report). Two incompatible
    dates of birth split a person (a parent and child of one name); where the data show no
    households, `years_apart` relaxes that to dates of birth that many years apart or more.
    `find_components(n, l, r)` gives the connected components (default: `components`, here);
    only which records share a label matters, not the label numbers."""
    if cannot_pairs is None:
        cannot_pairs = (np.empty(0, np.int64), np.empty(0, np.int64))
    labels = (find_components or components)(n, l, r)
    bad = conflicted_components(labels, std, cols, settings, cannot_pairs, years_apart) if n else np.empty(0, np.int64)
    report = {"components_split": int(len(bad)), "links_dropped_by_guard": 0}
    if not len(bad):
        return labels, report
    cannot: dict[int, set[int]] = defaultdict(set)
    for a, b in zip(*cannot_pairs):
        cannot[int(a)].add(int(b))
        cannot[int(b)].add(int(a))
    guard = _Guard(std, cols, settings, cannot, years_apart)
    in_bad = np.isin(labels, bad)
    guard.prepare_dobs(labels, np.flatnonzero(in_bad))
    e = np.flatnonzero(in_bad[l])
    order = e[np.lexsort((r[e], l[e], -strength[e]))]
    parent: dict[int, int] = {}
    states: dict[int, dict] = {}

    def find(x: int) -> int:
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:
            parent[x], x = root, parent[x]
        return root

    dropped = 0
    for k in order:
        a, b = find(int(l[k])), find(int(r[k]))
        if a == b:
            continue
        sa = states.get(a) or guard.state(a)
        sb = states.get(b) or guard.state(b)
        if guard.conflict(sa, sb):
            dropped += 1
            continue
        if len(sa["members"]) < len(sb["members"]):
            a, b, sa, sb = b, a, sb, sa
        parent[b] = a
        states[a] = guard.merge(sa, sb)
        states.pop(b, None)
    report["links_dropped_by_guard"] = dropped
    new = labels.copy()
    nxt = labels.max() + 1 if n else 0
    roots: dict[int, int] = {}
    for rec in np.flatnonzero(in_bad):
        root = find(int(rec))
        if root not in roots:
            roots[root] = nxt
            nxt += 1
        new[rec] = roots[root]
    return new, report
