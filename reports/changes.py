"""Quarter on quarter: which families are new, continuing or have left between two need matrices,
which became eligible, stayed eligible or stopped being eligible (and why), and how each criterion
moved. One definition, read by `hnf-match run --previous` (changes.csv and the report's section)
and by `hnf-match compare`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

CHANGE_COLUMNS = ["family_id", "status", "eligibility_status", "eligible_before", "eligible_now",
                  "criteria_before", "criteria_now", "criteria_gained", "criteria_lost", "eligibility_reason",
                  "last_record_date", "seen_since_last_quarter", "note"]
# Presence: is the family in both quarters' matrices?
PRESENCE = ("new", "continuing", "left")
# Eligibility under the family rule, last quarter against this quarter (a family new this
# quarter was not eligible last quarter; one that left is not eligible now).
ELIGIBILITY = ("newly_eligible", "still_eligible", "no_longer_eligible", "not_eligible")
MOVEMENT_COLUMNS = ["criterion", "families_before", "families_now", "gained_by_continuing_families",
                    "lost_by_continuing_families", "met_by_new_families", "met_by_families_left"]


@dataclass(frozen=True)
class QuarterChanges:
    """changes.csv (one row per family in either quarter), the per-criterion movement and notes
    on how the two quarters were compared."""
    changes: pd.DataFrame
    movement: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    old_as_of: str | None = None        # the older quarter's reference date (ISO), where known

    def __iter__(self):     # changes, movement, notes = compare_quarters(...)
        return iter((self.changes, self.movement, self.notes))


def eligibility_status(before: int | None, now: int | None) -> str:
    """`before`/`now`: 1 eligible, 0 not, None not in that quarter's matrix."""
    was, is_ = before == 1, now == 1
    if is_:
        return "still_eligible" if was else "newly_eligible"
    return "no_longer_eligible" if was else "not_eligible"


def criteria_columns(matrix: pd.DataFrame) -> list[str]:
    cols = list(matrix.columns)
    start = cols.index("postcode_district") + 1 if "postcode_district" in cols else 1
    return cols[start:cols.index("criteria_met")]


def _is_one(values: pd.Series) -> pd.Series:
    """A need matrix's flag as read from its CSV ("1") or as the run holds it (1, 1.0)."""
    return pd.to_numeric(values, errors="coerce").eq(1)


def _sort_key(value):
    m = re.match(r"([A-Z]+)(\d+)$", str(value))
    return (m.group(1), int(m.group(2))) if m else ("", 0)


def _reason(status: str, eligibility: str, gained: str, lost: str, split_note: str) -> str:
    """Why a family's eligibility changed, in the words of changes.csv."""
    if eligibility == "no_longer_eligible":
        if status == "left":
            return "left (no longer in any extract)"
        return f"criteria lost: {lost.replace(';', ', ')}" if lost else "the family rule is no longer met"
    if eligibility == "newly_eligible":
        if status == "new":
            return "new family" + (f" ({split_note})" if split_note else "")
        return f"criteria gained: {gained.replace(';', ', ')}" if gained else "the family rule is now met"
    return ""


def compare_quarters(old: pd.DataFrame, new: pd.DataFrame, id_changes: pd.DataFrame | None = None,
                     old_as_of: str | None = None) -> QuarterChanges:
    """Families new, continuing and left between two need matrices, with the criteria each
    gained and lost and its eligibility then and now. Agencies re-send old records, so a family
    that has moved away stays in the matrix for a while: `seen_since_last_quarter` says whether
    any record of the family is dated after the old quarter's reference date (0 for a family
    nobody has seen since). Families merged into another this quarter continue under the
    surviving ID."""
    notes = []
    old_c, new_c = criteria_columns(old), criteria_columns(new)
    common = [c for c in new_c if c in old_c]
    if set(old_c) != set(new_c):
        notes.append("the two quarters were scored with different criteria; compared on the ones they share: "
                     + ", ".join(common))
    renamed, split_from = {}, {}
    if id_changes is not None and len(id_changes):
        fam = id_changes[(id_changes["id_type"] == "family") & (id_changes["kind"] == "merged")]
        renamed = dict(zip(fam["old_id"], fam["new_id"]))
        fam = id_changes[(id_changes["id_type"] == "family") & (id_changes["kind"] == "split")]
        split_from = fam.groupby("new_id")["old_id"].apply(lambda s: ";".join(sorted(s))).to_dict()

    def met(frame: pd.DataFrame) -> pd.Series:
        flags = frame.set_index("family_id")[common].apply(_is_one)
        return pd.Series([[c for c, v in zip(common, row) if v] for row in flags.to_numpy()],
                         index=flags.index, dtype=object)

    o = old.assign(family_id=old["family_id"].map(lambda f: renamed.get(f, f)))
    last_seen = (pd.to_datetime(new.set_index("family_id")["last_record_date"], errors="coerce")
                 .dt.strftime("%Y-%m-%d").fillna("")
                 if "last_record_date" in new.columns else pd.Series(dtype=str))
    o_met = met(o.drop_duplicates("family_id"))
    n_met = met(new)
    o_elig = _is_one(o["eligible"]).groupby(o["family_id"]).any().astype(int)
    n_elig = _is_one(new.set_index("family_id")["eligible"]).astype(int)
    rows = []
    for fid in sorted(set(o_met.index) | set(n_met.index), key=_sort_key):
        before = o_met.get(fid, []) if fid in o_met.index else None
        now = n_met.get(fid, []) if fid in n_met.index else None
        split_note = f"split from {split_from[fid]}" if fid in split_from else ""
        if before is None:
            status, note = "new", split_note
        elif now is None:
            status, note = "left", ""
        else:
            status = "continuing"
            note = "absorbed " + ";".join(sorted(k for k, v in renamed.items() if v == fid)) \
                if fid in renamed.values() else ""
        both = before is not None and now is not None
        gained = ";".join(c for c in now if c not in before) if both else ""
        lost = ";".join(c for c in before if c not in now) if both else ""
        e_before = None if before is None else int(o_elig.get(fid, 0))
        e_now = None if now is None else int(n_elig.get(fid, 0))
        eligibility = eligibility_status(e_before, e_now)
        rows.append({
            "family_id": fid, "status": status, "eligibility_status": eligibility,
            "eligible_before": "" if e_before is None else e_before,
            "eligible_now": "" if e_now is None else e_now,
            "criteria_before": "" if before is None else ";".join(before),
            "criteria_now": "" if now is None else ";".join(now),
            "criteria_gained": gained, "criteria_lost": lost,
            "eligibility_reason": _reason(status, eligibility, gained, lost, split_note),
            "last_record_date": last_seen.get(fid, "") if now is not None else "",
            "seen_since_last_quarter": ("" if now is None or not old_as_of or not last_seen.get(fid, "")
                                        else int(last_seen.get(fid, "") > old_as_of)),
            "note": note,
        })
    changes = pd.DataFrame(rows, columns=CHANGE_COLUMNS)
    return QuarterChanges(changes=changes, movement=_movement(changes, old, new, common, o_met, n_met, o_elig, n_elig),
                          notes=notes, old_as_of=old_as_of)


def _movement(changes, old, new, common, o_met, n_met, o_elig, n_elig) -> pd.DataFrame:
    """Each criterion (and eligibility): families meeting it then and now, what continuing
    families gained and lost, and what the families new and left brought and took."""
    cont = changes[changes["status"] == "continuing"]
    new_ids = set(changes.loc[changes["status"] == "new", "family_id"])
    left_ids = set(changes.loc[changes["status"] == "left", "family_id"])

    def has_data(frame, c):
        return bool(pd.to_numeric(frame[c], errors="coerce").notna().any())

    rows = []
    for c in common + ["eligible"]:
        if c != "eligible" and not (has_data(old, c) or has_data(new, c)):
            rows.append({"criterion": c, "families_before": "no data", "families_now": "no data",
                         "gained_by_continuing_families": "", "lost_by_continuing_families": "",
                         "met_by_new_families": "", "met_by_families_left": ""})
            continue
        if c == "eligible":
            before_n, now_n = int(o_elig.sum()), int(n_elig.sum())
            gained = int(((cont["eligible_before"] == 0) & (cont["eligible_now"] == 1)).sum())
            lost = int(((cont["eligible_before"] == 1) & (cont["eligible_now"] == 0)).sum())
            arrived = int(n_elig[n_elig.index.isin(new_ids)].sum())
            went = int(o_elig[o_elig.index.isin(left_ids)].sum())
        else:
            has_before, has_now = o_met.map(lambda m: c in m), n_met.map(lambda m: c in m)
            before_n, now_n = int(has_before.sum()), int(has_now.sum())
            gained = int(cont["criteria_gained"].str.split(";").map(lambda m: c in m).sum())
            lost = int(cont["criteria_lost"].str.split(";").map(lambda m: c in m).sum())
            arrived = int(has_now[has_now.index.isin(new_ids)].sum())
            went = int(has_before[has_before.index.isin(left_ids)].sum())
        rows.append({"criterion": c, "families_before": before_n, "families_now": now_n,
                     "gained_by_continuing_families": gained, "lost_by_continuing_families": lost,
                     "met_by_new_families": arrived, "met_by_families_left": went})
    return pd.DataFrame(rows, columns=MOVEMENT_COLUMNS)
