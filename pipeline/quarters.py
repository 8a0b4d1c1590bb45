"""Quarter to quarter, in one place: read last quarter's outputs once (`read_previous`), carry
its person and family IDs, clerical decisions and baselines forward (`decisions_in_force`,
`carry_forward`), and compare two quarters' need matrices.

IDs follow the records. A person whose records are unchanged keeps their ID; one who gains
records keeps theirs; when earlier persons merge the oldest ID survives and the others are
recorded as merged into it; when one splits, the part holding most of its records keeps the ID
and the rest get new ones. A family keeps its ID where most of its members stay together, even
when it moves house. Every change is listed in id_changes.csv.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from matching.incremental import STATE_FOLDER, LinkageState, read_state
from matching.settings import LinkageSettings
from schemas.columns import DECISION_COLUMNS, WITHDRAW, normalise_decision
from reports.changes import CHANGE_COLUMNS, ELIGIBILITY, QuarterChanges, compare_quarters  # noqa: F401  (run and compare share it)
from reports.manifest import sha256_of
from schemas.errors import ConfigError, InputDataError

log = logging.getLogger("hnf_match")

ID_CHANGE_COLUMNS = ["id_type", "old_id", "new_id", "kind"]
BASELINE_FILE_COLUMNS = ["family_id", "baseline_date", "baseline_source"]


@dataclass(frozen=True)
class Previous:
    """Last quarter's output folder, read once: everything this quarter carries forward."""
    folder: Path
    record_links: pd.DataFrame              # source, record_id, person_id, family_id
    decisions: pd.DataFrame | None          # clerical decisions in force last quarter
    baselines: pd.DataFrame | None = None   # outcome-tracking baselines: family_id, baseline_date, baseline_source
    state: LinkageState | None = None       # what lets this quarter compare only new and changed records
    full_because: str = "no linkage state was read"   # why `state` is None, naming no person
    need_matrix: pd.DataFrame | None = None  # last quarter's need matrix, for changes.csv (None: not there)
    as_of: str | None = None                # last quarter's reference date (ISO), from its manifest
    record_links_sha256: str = ""           # of the record_links.csv read: manifest.json records it


def _read(path: Path, columns: list[str], what: str) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputDataError(f"{path}: not found; --previous must name the output folder of an earlier full run") from None
    except Exception as exc:  # a damaged file stops the run with its name
        raise InputDataError(f"{path}: cannot read {what} ({type(exc).__name__})") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputDataError(f"{path}: lacks column(s) {', '.join(missing)}")
    return frame


def read_previous(folder: Path, settings: LinkageSettings | None = None, *, full: bool = False) -> Previous:
    """Last quarter's record links (its IDs), clerical decisions, baselines and, unless `full`,
    its linkage state when it was made with these settings (`settings`: this run's linkage
    settings; without them no state is read). A file that is there but unreadable stops the
    run; an unusable state only means linking in full, and `full_because` says why."""
    folder = Path(folder)
    links = _read(folder / "record_links.csv", ["source", "record_id", "person_id", "family_id"], "the previous record links")
    if len(links) and not links["person_id"].str.fullmatch(r"P\d+").all():
        raise InputDataError(f"{folder / 'record_links.csv'}: person IDs are pseudonymised; carry IDs forward from "
                             "the previous quarter's full-profile output (keep it in a secure place for this)")
    decisions_path = folder / "clerical_decisions.csv"
    decisions = _read(decisions_path, DECISION_COLUMNS, "the previous clerical decisions") if decisions_path.exists() else None
    baselines_path = folder / "baselines.csv"
    baselines = (_read(baselines_path, BASELINE_FILE_COLUMNS, "the previous baselines")
                 if baselines_path.exists() else None)
    if full:
        state, why = None, "--full was given"
    elif settings is None:
        state, why = None, "no linkage settings were given to check the state against"
    else:
        state, why = read_state(folder / STATE_FOLDER, settings)
    matrix = read_need_matrix(folder) if (folder / "need_matrix.csv").exists() else None
    return Previous(folder=folder, record_links=links[["source", "record_id", "person_id", "family_id"]],
                    decisions=decisions, baselines=baselines, state=state, full_because=why,
                    need_matrix=matrix, as_of=read_as_of(folder),
                    record_links_sha256=sha256_of(folder / "record_links.csv"))


@dataclass(frozen=True)
class DecisionsFile:
    """This quarter's review decisions file, read and checked: the rows with a decision, each
    with `row`, its row number in the file (the header is row 1)."""
    path: Path
    rows: pd.DataFrame


def read_decisions(path: Path | None) -> DecisionsFile | None:
    """This quarter's review decisions file (the analyst's verdicts on last run's review pairs):
    the rows with a decision, each checked; None without a file."""
    if path is None:
        return None
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except Exception as exc:  # an unreadable decisions file stops the run with a clear message
        raise InputDataError(f"{path}: cannot read the review decisions file ({type(exc).__name__})") from None
    missing = set(DECISION_COLUMNS) - set(frame.columns)
    if missing:
        raise InputDataError(f"{path}: review decisions file lacks column(s) {', '.join(sorted(missing))}")
    word = frame["decision"].map(normalise_decision)
    decided = frame.loc[word != "", DECISION_COLUMNS].copy()
    bad = word[word != ""].isna()
    if bad.any():
        row = int(decided.index[bad.to_numpy()][0]) + 2
        raise InputDataError(f"{path}, row {row}, column decision: must be match, non-match or withdraw")
    decided["decision"] = word[word != ""]
    decided["row"] = decided.index + 2
    return DecisionsFile(path=Path(path), rows=decided.reset_index(drop=True))


def _keys(source: pd.Series, record_id: pd.Series) -> pd.MultiIndex:
    return pd.MultiIndex.from_arrays([source.astype(str).to_numpy(), record_id.astype(str).to_numpy()])


def _without_zeros(record_id: pd.Series) -> pd.Series:
    return record_id.astype(str).str.lstrip("0")


def resolve_decisions(decisions: DecisionsFile, records: pd.DataFrame,
                      previous_links: pd.DataFrame | None = None) -> pd.DataFrame:
    """The file's decisions on this run's records. A record ID that lost its leading zeros (a
    file opened and saved in Excel: 00001804 becomes 1804) names the record of that source whose
    ID is the same without its zeros, when exactly one record is (a warning names the rows). A
    record in last quarter's record links but not sent this quarter has left the data: its
    decision is kept, and linking leaves it aside. Any other record not in this run stops the
    run (InputDataError naming the file and row)."""
    rows = decisions.rows.copy()
    known = _keys(records["source"], records["record_id"])
    restored = np.zeros(len(rows), dtype=bool)
    unique_without_zeros = None
    for side in ("l", "r"):
        source, record_id = rows[f"source_{side}"].astype(str), rows[f"record_id_{side}"].astype(str)
        missing = known.get_indexer(_keys(source, record_id)) < 0
        if not missing.any():
            continue
        if unique_without_zeros is None:
            stripped = pd.DataFrame({"source": records["source"].astype(str).to_numpy(),
                                     "stripped": _without_zeros(records["record_id"]).to_numpy(),
                                     "record_id": records["record_id"].astype(str).to_numpy()})
            n = stripped.groupby(["source", "stripped"])["record_id"].transform("size")
            unique_without_zeros = stripped[n == 1].set_index(["source", "stripped"])["record_id"]
            ambiguous = set(map(tuple, stripped.loc[n > 1, ["source", "stripped"]].to_numpy()))
        at = np.flatnonzero(missing)
        wanted = _keys(source.iloc[at], _without_zeros(record_id.iloc[at]))
        found = unique_without_zeros.reindex(wanted).to_numpy()
        hit = pd.notna(found)
        rows.loc[rows.index[at[hit]], f"record_id_{side}"] = found[hit]
        restored[at[hit]] = True
        left_over = at[~hit]
        if not len(left_over):
            continue
        gone = np.zeros(len(left_over), dtype=bool)
        if previous_links is not None and len(previous_links):
            before = _keys(previous_links["source"], _without_zeros(previous_links["record_id"]))
            gone = np.asarray(_keys(source.iloc[left_over], _without_zeros(record_id.iloc[left_over])).isin(before))
        for i in left_over[~gone][:1]:
            row = int(rows["row"].iloc[i])
            why = ("matches more than one record once leading zeros are dropped"
                   if (source.iloc[i], record_id.iloc[i].lstrip("0")) in ambiguous else
                   "is not in this run's extracts" + (" nor in the previous run's" if previous_links is not None else ""))
            raise InputDataError(f"{decisions.path}, row {row}, columns source_{side} and record_id_{side}: "
                                 f"the record {why}")
    if restored.any():
        listed = rows["row"].to_numpy()[restored]
        more = f" and {len(listed) - 20} more" if len(listed) > 20 else ""
        log.warning("%s, row(s) %s%s: record IDs matched to this run's records once their leading zeros were "
                    "restored (a file saved by Excel drops them)", decisions.path,
                    ", ".join(str(r) for r in listed[:20]), more)
    return rows


def decisions_in_force(previous: Previous | None, decisions: DecisionsFile | None,
                       records: pd.DataFrame) -> pd.DataFrame | None:
    """The clerical decisions this run links with (and leaves for the next quarter): last
    quarter's, overridden pair by pair by this quarter's decisions file, whose records are
    first found among this run's (`resolve_decisions`)."""
    current = None
    if decisions is not None:
        current = resolve_decisions(decisions, records, previous.record_links if previous is not None else None)
    return merge_decisions(previous.decisions if previous is not None else None, current)


@dataclass(frozen=True)
class CarriedForward:
    """This quarter's persons and families under last quarter's IDs."""
    record_links: pd.DataFrame
    members: pd.DataFrame
    id_changes: pd.DataFrame | None       # how IDs changed (None: no previous quarter)
    baselines: pd.DataFrame | None        # last quarter's baselines under this quarter's family IDs
    review_pairs: pd.DataFrame | None = None   # the clerical review queue under the carried person IDs


def carry_forward(previous: Previous | None, record_links: pd.DataFrame, members: pd.DataFrame,
                  review_pairs: pd.DataFrame | None = None) -> CarriedForward:
    """Last quarter's IDs on this quarter's persons and families (and on the review queue's
    person pairs), the changes, and the baselines that follow the families; without a previous
    quarter, the links as they are."""
    if previous is None:
        return CarriedForward(record_links=record_links, members=members, id_changes=None, baselines=None,
                              review_pairs=review_pairs)
    links, mem, changes = carry_ids_forward(record_links, members, previous)
    return CarriedForward(record_links=links, members=mem, id_changes=changes,
                          baselines=carry_baselines(previous.baselines, changes),
                          review_pairs=queue_person_ids(review_pairs, links))


def queue_person_ids(review_pairs: pd.DataFrame | None, record_links: pd.DataFrame) -> pd.DataFrame | None:
    """The review queue's `person_id_l`/`person_id_r` (and `family_id_l`/`family_id_r`) as
    `record_links` has them: each side's person is the person of the record pair shown."""
    if review_pairs is None or "person_id_l" not in review_pairs:
        return review_pairs
    index = pd.MultiIndex.from_arrays([record_links["source"].astype(str), record_links["record_id"].astype(str)])
    out = review_pairs.copy()
    for kind in ("person_id", "family_id"):
        if f"{kind}_l" not in out:
            continue
        ids = pd.Series(record_links[kind].to_numpy(), index=index)
        for side in ("l", "r"):
            keys = pd.MultiIndex.from_arrays([out[f"source_{side}"].astype(str),
                                              out[f"record_id_{side}"].astype(str)])
            out[f"{kind}_{side}"] = ids.reindex(keys).to_numpy()
    return out


def carry_baselines(baselines: pd.DataFrame | None, id_changes: pd.DataFrame | None) -> pd.DataFrame | None:
    """Last quarter's baselines under this quarter's family IDs: a family merged into another
    passes its baseline on (the earlier date wins); a retired family's baseline ends."""
    if baselines is None or not len(baselines):
        return baselines
    b = baselines.copy()
    if id_changes is not None and len(id_changes):
        fam = id_changes[id_changes["id_type"] == "family"]
        merged = dict(zip(fam.loc[fam["kind"] == "merged", "old_id"], fam.loc[fam["kind"] == "merged", "new_id"]))
        retired = set(fam.loc[fam["kind"] == "retired", "old_id"])
        b["family_id"] = b["family_id"].map(lambda f: merged.get(f, f))
        b = b[~b["family_id"].isin(retired)]
    b = b.assign(_d=pd.to_datetime(b["baseline_date"])).sort_values(["family_id", "_d"])
    return b.drop_duplicates("family_id").drop(columns="_d").reset_index(drop=True)


def _number(ids: pd.Series) -> pd.Series:
    return pd.to_numeric(ids.str.extract(r"(\d+)$", expand=False), errors="coerce")


def _fmt(prefix: str, n: int) -> str:
    return f"{prefix}{n:06d}"


def _carry(groups: pd.DataFrame, prefix: str, id_type: str, old_sizes: pd.Series) -> tuple[dict, pd.DataFrame]:
    """groups: one row per (new_key, old_id) with `weight` (records or members they share) and
    `order` (the new group's sort key); old_id is missing for a new group's unseen part.
    old_sizes: every old ID -> its size. Returns new_key -> final ID, and the changes.
    Whole-array operations throughout: a million records take seconds."""
    linked = groups.dropna(subset=["old_id"])
    linked = linked.assign(old_n=_number(linked["old_id"]))
    # Each old ID goes to the new group holding most of it (ties: the earliest group) ...
    best = (linked.sort_values(["old_id", "weight", "order"], ascending=[True, False, True])
            .drop_duplicates("old_id"))
    if id_type == "family":
        # ... and a family keeps its ID only where most of its members stay together.
        best = best[best["weight"] * 2 > best["old_id"].map(old_sizes).fillna(0)]
    # A new group offered several old IDs keeps the oldest; the others merge into it.
    offered = best.sort_values(["new_key", "old_n"], kind="stable")
    first = ~offered["new_key"].duplicated()
    keeper = offered.loc[first].set_index("new_key")["old_id"]
    others = offered.loc[~first]
    merged = pd.DataFrame({"id_type": id_type, "old_id": others["old_id"].to_numpy(),
                           "new_id": others["new_key"].map(keeper).to_numpy(), "kind": "merged"})
    # Groups that kept no old ID get new numbers, in order.
    new_keys = groups.drop_duplicates("new_key").sort_values("order", kind="stable")["new_key"]
    fresh = new_keys[~new_keys.isin(keeper.index)].to_numpy()
    numbers = _number(pd.Series(list(old_sizes.index), dtype=object)).dropna()
    next_n = int(numbers.max()) + 1 if len(numbers) else 1
    fresh_ids = pd.Series([_fmt(prefix, k) for k in range(next_n, next_n + len(fresh))], index=fresh, dtype=object)
    # ... each listed as split from the old IDs it holds records of, or as new.
    came = linked[linked["new_key"].isin(fresh)][["new_key", "old_id"]].drop_duplicates()
    came = came.assign(rank=came["new_key"].map(pd.Series(np.arange(len(fresh)), index=fresh)))
    came = came.sort_values(["rank", "old_id"], kind="stable")
    split = pd.DataFrame({"id_type": id_type, "old_id": came["old_id"].to_numpy(),
                          "new_id": came["new_key"].map(fresh_ids).to_numpy(), "kind": "split", "_r": came["rank"].to_numpy()})
    unseen = np.setdiff1d(np.arange(len(fresh)), came["rank"].to_numpy())
    new = pd.DataFrame({"id_type": id_type, "old_id": "", "new_id": fresh_ids.to_numpy()[unseen], "kind": "new",
                        "_r": unseen})
    born = pd.concat([split, new], ignore_index=True).sort_values("_r", kind="stable").drop(columns="_r")
    # An old ID that no group kept is no longer in use.
    gone = pd.Series(sorted(sorted(set(old_sizes.index) - set(best["old_id"])), key=_sort_key), dtype=object)
    retired = pd.DataFrame({"id_type": id_type, "old_id": gone.to_numpy(), "new_id": "", "kind": "retired"})
    final = {**keeper.to_dict(), **fresh_ids.to_dict()}
    parts = [f for f in (merged, born, retired) if len(f)]
    changes = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=ID_CHANGE_COLUMNS)
    return final, changes[ID_CHANGE_COLUMNS]


def carry_ids_forward(record_links: pd.DataFrame, members: pd.DataFrame, previous: Previous
                      ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Give this run's persons and families last quarter's IDs where the records say they are
    the same. Returns (record_links, members, id_changes) with IDs replaced."""
    key = record_links["source"].astype(str) + "\x1f" + record_links["record_id"].astype(str)
    # Each record's rank in key order: a group's order is its smallest, found on integers.
    key_rank = pd.Series(pd.factorize(key, sort=True)[0], index=record_links.index)
    prev = previous.record_links
    prev_key = prev["source"] + "\x1f" + prev["record_id"]
    old_person = pd.Series(prev["person_id"].to_numpy(), index=prev_key)
    old_family_of_person = prev.drop_duplicates("person_id").set_index("person_id")["family_id"]

    # Persons: weight = records shared with each old person.
    rec = pd.DataFrame({"new_key": record_links["person_id"].to_numpy(), "key": key.to_numpy()})
    rec["old_id"] = rec["key"].map(old_person)
    order = key_rank.groupby(rec["new_key"].to_numpy()).min()
    pgroups = (rec.groupby(["new_key", "old_id"], dropna=False).size().rename("weight").reset_index())
    pgroups["order"] = pgroups["new_key"].map(order)
    person_sizes = prev.groupby("person_id").size()
    person_map, p_changes = _carry(pgroups, "P", "person", person_sizes)

    links = record_links.copy()
    links["person_id"] = links["person_id"].map(person_map)
    mem = members.copy()
    mem["person_id"] = mem["person_id"].map(person_map)

    # Families: weight = members (stable person IDs) shared with each old family.
    fam = mem[["family_id", "person_id"]].drop_duplicates().rename(columns={"family_id": "new_key"})
    fam["old_id"] = fam["person_id"].map(old_family_of_person)
    f_order = key_rank.groupby(links["family_id"].to_numpy()).min()
    fgroups = fam.groupby(["new_key", "old_id"], dropna=False).size().rename("weight").reset_index()
    fgroups["order"] = fgroups["new_key"].map(f_order)
    # An old family's size: its members still present this quarter.
    present = old_family_of_person[old_family_of_person.index.isin(set(mem["person_id"]))]
    family_sizes = present.groupby(present).size().reindex(prev["family_id"].unique(), fill_value=0)
    family_map, f_changes = _carry(fgroups, "F", "family", family_sizes)

    links["family_id"] = links["family_id"].map(family_map)
    mem["family_id"] = mem["family_id"].map(family_map)
    mem = mem.sort_values(["family_id", "person_id"], key=_id_order, kind="stable").reset_index(drop=True)
    changes = pd.concat([p_changes, f_changes], ignore_index=True)[ID_CHANGE_COLUMNS]
    return links, mem, changes


def _id_order(ids: pd.Series) -> pd.Series:
    """Sort key for IDs like P000123: by number, whatever the width (pandas `key=`)."""
    return _number(ids.astype(str)).fillna(-1)


def _sort_key(value):
    m = re.match(r"([A-Z]+)(\d+)$", str(value))
    return (m.group(1), int(m.group(2))) if m else ("", 0)


def merge_decisions(previous: pd.DataFrame | None, current: pd.DataFrame | None) -> pd.DataFrame | None:
    """Decisions in force: last quarter's, overridden pair by pair by this quarter's file; a
    decision of `withdraw` removes a pair's earlier decision."""
    frames = [f[DECISION_COLUMNS] for f in (previous, current) if f is not None and len(f)]
    if not frames:
        return None
    both = pd.concat(frames, ignore_index=True)
    left = both["source_l"] + "\x1f" + both["record_id_l"]
    right = both["source_r"] + "\x1f" + both["record_id_r"]
    both["_pair"] = np.where(left <= right, left + "\x1e" + right, right + "\x1e" + left)
    both["decision"] = both["decision"].str.strip().str.lower()
    kept = both.drop_duplicates("_pair", keep="last")
    word = kept["decision"].map(normalise_decision)
    kept = kept[(word != WITHDRAW) & (word != "")]   # an unreadable word is kept: linkage names its row
    return kept.drop(columns="_pair").reset_index(drop=True)


# ---- comparing two quarters (the comparison itself: reports.changes) ----------------------

FIXED_MATRIX_COLUMNS = ["family_id", "members", "adults", "children", "postcode_district"]


def read_need_matrix(folder: Path) -> pd.DataFrame:
    """A run's need matrix, in either layout (families-as-columns past Excel's column limit is
    split into need_matrix.csv, need_matrix_2.csv, ...: read together)."""
    path = Path(folder) / "need_matrix.csv"
    frame = _read(path, [], "the need matrix")
    if "family_id" not in frame.columns and "need" in frame.columns:
        parts = [frame]
        n = 2
        while (Path(folder) / f"need_matrix_{n}.csv").exists():
            parts.append(_read(Path(folder) / f"need_matrix_{n}.csv", ["need"], "the need matrix").drop(columns="need"))
            n += 1
        frame = pd.concat(parts, axis=1) if len(parts) > 1 else frame
        frame = frame.set_index("need").T.rename_axis("family_id").reset_index()   # families-as-columns layout
    missing = [c for c in ("family_id", "criteria_met", "eligible") if c not in frame.columns]
    if missing:
        raise InputDataError(f"{path}: lacks column(s) {', '.join(missing)}")
    return frame


def read_as_of(folder: Path) -> str | None:
    """The reference date of a run, from its manifest."""
    import json
    try:
        return json.loads((Path(folder) / "manifest.json").read_text())["as_of"]
    except (OSError, ValueError, KeyError):
        return None


def check_carried_forward(old_dir: Path, new_dir: Path) -> None:
    """`compare` matches families by ID, which means something only when the newer run carried
    its IDs from the older one (`run --previous OLD`): its manifest records the SHA-256 of the
    record_links.csv it was given, and that must be OLD's. Otherwise the same ID can be two
    different families, and the movements would be coincidences: refused (exit 2)."""
    import json
    old_dir, new_dir = Path(old_dir), Path(new_dir)
    try:
        manifest = json.loads((new_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ConfigError(f"{new_dir / 'manifest.json'}: missing or unreadable; compare needs the manifest of an "
                          "hnf-match output folder to know which run its IDs were carried from") from None
    given = manifest.get("previous_record_links_sha256") if isinstance(manifest, dict) else None
    rerun = f"run the newer quarter again with --previous {old_dir}, then compare"
    if not given:
        raise ConfigError(f"{new_dir}: was not run with --previous (its manifest.json records no previous run), so "
                          f"its family IDs were not carried forward from {old_dir} and the same ID may be another "
                          f"family; {rerun}")
    links = old_dir / "record_links.csv"
    if not links.is_file():
        raise ConfigError(f"{links}: not found; compare needs the older quarter's output folder")
    if sha256_of(links) != given:
        raise ConfigError(f"{new_dir}: its IDs were carried forward from another run than {old_dir} (the "
                          f"record_links.csv it was given differs from {links}), so the same ID may be another "
                          f"family; {rerun}")
