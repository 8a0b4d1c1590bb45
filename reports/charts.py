"""Charts for report.html, drawn with matplotlib and returned as inline SVG text: no files, no
network, text kept as text (searchable, and sharp when printed). Each function takes plain
counts, never records, so no chart can show a personal value."""
from __future__ import annotations

import hashlib
import io
import re
from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # no display: the report is built in batch runs and cron jobs
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter  # noqa: E402

# Okabe-Ito: distinguishable with the common colour-vision deficiencies, and in greyscale print.
BLUE, ORANGE, GREEN, VERMILION, SKY, GREY, DARK = "#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#999999", "#333333"

_STYLE = {
    "svg.fonttype": "none",            # <text> elements, in the reader's own sans-serif font
    "svg.hashsalt": "hnf-match",       # stable element ids: the same run gives the same report
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#666666",
    "axes.labelcolor": DARK,
    "xtick.color": DARK,
    "ytick.color": DARK,
    "figure.dpi": 100,
}
_NO_METADATA = {"Format": None, "Type": None, "Creator": None, "Date": None}
_XML_HEAD = re.compile(r"^.*?(?=<svg)", re.S)
_NAMESPACES = re.compile(r'\s+xmlns(:\w+)?="[^"]*"')
_ID_OR_REF = re.compile(r'(\sid="|href="#|url\(#)([^")]+)')


def to_svg(fig, title: str) -> str:
    """The figure as an `<svg>` element to paste into HTML: no XML prologue, no namespace URLs,
    no creation date, with a <title> for screen readers. Closes the figure."""
    buf = io.StringIO()
    try:
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={**_NO_METADATA, "Title": title})
    finally:
        plt.close(fig)
    text = _XML_HEAD.sub("", buf.getvalue(), count=1)
    # HTML knows the SVG namespace by itself; dropping the attributes keeps the document free of
    # any address a strict proxy or a reviewer could take for a network request.
    text = _NAMESPACES.sub("", text)
    # Every chart numbers its elements from 1 (axes_1, clip paths, markers): prefix them so ids
    # stay unique in a page of many charts and each chart's references stay its own.
    prefix = "c" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:8] + "-"
    text = _ID_OR_REF.sub(lambda m: m.group(1) + prefix + m.group(2), text)
    return text.replace("<svg", f'<svg role="img" aria-label="{_attr(title)}"', 1).strip()


def _attr(text: str) -> str:
    return (text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;"))


def _style(fn):
    def wrapped(*args, **kwargs):
        with plt.rc_context(_STYLE):
            return fn(*args, **kwargs)
    wrapped.__name__, wrapped.__doc__ = fn.__name__, fn.__doc__
    return wrapped


def _label_bars(ax, bars, labels: Sequence[str], horizontal: bool) -> None:
    for bar, text in zip(bars, labels):
        if horizontal:
            ax.annotate(text, (bar.get_width(), bar.get_y() + bar.get_height() / 2), xytext=(3, 0),
                        textcoords="offset points", va="center", ha="left", fontsize=8, color=DARK)
        else:
            ax.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()), xytext=(0, 2),
                        textcoords="offset points", va="bottom", ha="center", fontsize=8, color=DARK)


def _wrap(text: str, width: int = 38) -> str:
    words, lines, line = text.split(), [], ""
    for w in words:
        if line and len(line) + 1 + len(w) > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    lines.append(line)
    return "\n".join(lines)


@_style
def source_quality_chart(sources: Sequence[str], accepted: Sequence[int], rejected: Sequence[int]) -> str:
    """Per source: accepted and rejected rows as one stacked horizontal bar."""
    fig, ax = plt.subplots(figsize=(6.4, 0.45 * len(sources) + 0.9))
    y = np.arange(len(sources))[::-1]
    acc = np.asarray(accepted, dtype=float)
    rej = np.asarray(rejected, dtype=float)
    ax.barh(y, acc, color=BLUE, label="accepted")
    ax.barh(y, rej, left=acc, color=VERMILION, label="rejected")
    for yy, a, r in zip(y, acc, rej):
        ax.annotate(f"{int(a + r):,} read, {int(r):,} rejected", (a + r, yy), xytext=(3, 0),
                    textcoords="offset points", va="center", ha="left", fontsize=8, color=DARK)
    ax.set_yticks(y, list(sources))
    ax.set_xlabel("rows in the extract")
    ax.set_xlim(0, max(1.0, float((acc + rej).max()) if len(acc) else 1.0) * 1.45)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="lower right", frameon=False, fontsize=8, ncols=2, bbox_to_anchor=(1, 1.0))
    return to_svg(fig, "Rows read per source, split into accepted and rejected")


WEIGHT_MARGIN = 20.0   # how far either side of the review band the histogram reaches


WEIGHTS_A_SLICE = 1 << 22   # the pairs' weights are read this many at a time: never copied whole


def _finite_slices(weights: np.ndarray):
    """The finite weights as floats, a slice at a time: the candidate pairs' weights are as
    long as the pairs, the largest arrays of a run, and a float copy of them all would be
    as large again."""
    w = np.asarray(weights)
    for start in range(0, len(w), WEIGHTS_A_SLICE):
        part = np.asarray(w[start:start + WEIGHTS_A_SLICE], dtype=float)
        yield part[np.isfinite(part)]


def weight_range(weights: np.ndarray, match_weight: float | None, review_weight: float | None) -> tuple[float, float]:
    """The x range of the histogram: the data, cut to WEIGHT_MARGIN either side of the
    thresholds (pairs beyond are counted in the end bars), so the band stays readable."""
    ends = [(float(p.min()), float(p.max())) for p in _finite_slices(weights) if len(p)]
    marks = [m for m in (match_weight, review_weight) if m is not None]
    lo = min(e[0] for e in ends) if ends else (min(marks) - 10 if marks else -10.0)
    hi = max(e[1] for e in ends) if ends else (max(marks) + 10 if marks else 10.0)
    if marks:
        lo = max(min(lo, min(marks) - 1), min(marks) - WEIGHT_MARGIN)
        hi = min(max(hi, max(marks) + 1), max(marks) + WEIGHT_MARGIN)
    if hi - lo < 2:
        lo, hi = lo - 1, hi + 1
    return float(np.floor(lo)), float(np.ceil(hi))


def weight_counts(weights: np.ndarray, lo: float, hi: float) -> tuple[int, int, int]:
    """How many weights are finite, and how many of those lie below `lo` and above `hi`."""
    finite = below = above = 0
    for part in _finite_slices(weights):
        finite += len(part)
        below += int((part < lo).sum())
        above += int((part > hi).sum())
    return finite, below, above


@_style
def match_weight_histogram(weights: np.ndarray, match_weight: float | None, review_weight: float | None) -> str:
    """Histogram of candidate pairs by match weight (log scale: non-matches far outnumber
    matches), with the link threshold and the review band marked."""
    lo, hi = weight_range(weights, match_weight, review_weight)
    fig, ax = plt.subplots(figsize=(6.6, 2.9))
    bins = np.arange(lo, hi + 0.5, 0.5)
    if review_weight is not None and match_weight is not None:
        ax.axvspan(review_weight, match_weight, color=ORANGE, alpha=0.3, lw=0, label="review band")
    # Counted a slice at a time, then drawn from the counts: each bin's left edge weighs as
    # many pairs as fell in it (the same bars as the weights drawn themselves).
    counts, finite = np.zeros(len(bins) - 1, np.int64), 0
    for part in _finite_slices(weights):
        counts += np.histogram(np.clip(part, lo, hi - 1e-9), bins=bins)[0]
        finite += len(part)
    if finite:
        ax.hist(bins[:-1], bins=bins, weights=counts, color=BLUE, label="candidate pairs")
    if match_weight is not None:
        ax.axvline(match_weight, color=VERMILION, lw=1.6, label=f"link threshold ({match_weight:.1f})")
    if review_weight is not None:
        ax.axvline(review_weight, color=ORANGE, lw=1.2, ls="--", label=f"review from ({review_weight:.1f})")
    ax.set_yscale("symlog", linthresh=1, linscale=0.4)
    ax.set_ylim(0, None)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlim(lo, hi)
    ax.set_xlabel("match weight (each step of 1 doubles the odds of being the same person)")
    ax.set_ylabel("pairs (log scale)")
    ax.legend(loc="lower center", frameon=False, fontsize=8, ncols=4, bbox_to_anchor=(0.5, 1.0))
    return to_svg(fig, "Histogram of candidate pairs by match weight, with the link threshold and the review band")


@_style
def count_bars(labels: Sequence[str], counts: Sequence[int], *, xlabel: str, ylabel: str, title: str,
               color: str = BLUE) -> str:
    """Vertical bars of counts by category (a size distribution), each bar labelled."""
    fig, ax = plt.subplots(figsize=(max(3.2, 0.45 * len(labels) + 1.4), 2.6))
    x = np.arange(len(labels))
    bars = ax.bar(x, np.asarray(counts, dtype=float), color=color, width=0.7)
    _label_bars(ax, bars, [f"{int(c):,}" for c in counts], horizontal=False)
    ax.set_xticks(x, list(labels))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    top = max([float(c) for c in counts] + [1.0])
    ax.set_ylim(0, top * 1.15)
    return to_svg(fig, title)


@_style
def criteria_chart(titles: Sequence[str], counts: Sequence[int | None], families: int) -> str:
    """Families meeting each criterion as horizontal bars; a criterion without data is labelled
    'no data' and has no bar (it is unknown, not zero)."""
    fig, ax = plt.subplots(figsize=(6.8, 0.5 * len(titles) + 0.8))
    y = np.arange(len(titles))[::-1]
    values = np.array([0.0 if c is None else float(c) for c in counts])
    bars = ax.barh(y, values, color=[GREY if c is None else BLUE for c in counts], height=0.65)
    labels = ["no data" if c is None else f"{c:,} ({c / families:.0%})" if families else f"{c:,}" for c in counts]
    _label_bars(ax, bars, labels, horizontal=True)
    ax.set_yticks(y, [_wrap(t) for t in titles])
    ax.set_xlabel("families meeting the criterion")
    ax.set_xlim(0, max(values.max() if len(values) else 0.0, 1.0) * 1.3)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return to_svg(fig, "Families meeting each criterion")


@_style
def combinations_chart(criteria: Sequence[str], combos: Sequence[tuple[frozenset, int]]) -> str:
    """UpSet-style chart: one column per combination of criteria met (dots joined below), its
    number of families as a bar above. `combos` is (criteria met, families), most common first."""
    n_c, n_k = len(criteria), len(combos)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(max(4.5, 0.42 * n_k + 2.6), 2.3 + 0.28 * n_c),
                                      sharex=True, gridspec_kw={"height_ratios": [2.2, 0.28 * n_c + 0.3], "hspace": 0.05})
    x = np.arange(n_k)
    counts = [c for _, c in combos]
    bars = top.bar(x, counts, color=BLUE, width=0.6)
    _label_bars(top, bars, [f"{c:,}" for c in counts], horizontal=False)
    top.set_ylabel("families")
    top.set_ylim(0, max(counts + [1]) * 1.2)
    top.yaxis.set_major_locator(MaxNLocator(integer=True))
    top.tick_params(axis="x", bottom=False)
    y_of = {name: n_c - 1 - i for i, name in enumerate(criteria)}
    for i in range(n_c):
        if i % 2 == 0:
            bottom.axhspan(i - 0.5, i + 0.5, color="#f0f0f0", lw=0)
    for k, (met, _) in enumerate(combos):
        bottom.scatter([k] * n_c, list(range(n_c)), s=28, color="#d9d9d9", zorder=2)
        ys = sorted(y_of[c] for c in met if c in y_of)
        if ys:
            bottom.plot([k, k], [ys[0], ys[-1]], color=DARK, lw=1.6, zorder=3)
            bottom.scatter([k] * len(ys), ys, s=32, color=DARK, zorder=4)
    bottom.set_yticks([y_of[c] for c in criteria], list(criteria))
    bottom.set_ylim(-0.5, n_c - 0.5)
    bottom.set_xticks([])
    bottom.set_xlim(-0.6, n_k - 0.4)
    for side in ("left", "bottom"):
        bottom.spines[side].set_visible(False)
    bottom.tick_params(axis="y", left=False)
    return to_svg(fig, "The most common combinations of criteria met, as bars over a dot matrix")


@_style
def district_chart(districts: Sequence[str], counts: Sequence[int]) -> str:
    """Eligible families per postcode district (only districts shown in full: 5 or more)."""
    fig, ax = plt.subplots(figsize=(6.4, 0.32 * len(districts) + 0.9))
    y = np.arange(len(districts))[::-1]
    bars = ax.barh(y, np.asarray(counts, dtype=float), color=GREEN, height=0.65)
    _label_bars(ax, bars, [f"{c:,}" for c in counts], horizontal=True)
    ax.set_yticks(y, list(districts))
    ax.set_xlabel("eligible families")
    ax.set_xlim(0, max(list(counts) + [1]) * 1.15)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return to_svg(fig, "Eligible families by postcode district")


@_style
def family_size_chart(sizes: Sequence[str], all_families: Sequence[int], eligible: Sequence[int]) -> str:
    """Families by number of members: all families and eligible families side by side."""
    fig, ax = plt.subplots(figsize=(max(3.6, 0.6 * len(sizes) + 1.6), 2.6))
    x = np.arange(len(sizes))
    b1 = ax.bar(x - 0.2, np.asarray(all_families, dtype=float), width=0.4, color=SKY, label="all families")
    b2 = ax.bar(x + 0.2, np.asarray(eligible, dtype=float), width=0.4, color=BLUE, label="eligible families")
    _label_bars(ax, b1, [f"{c:,}" for c in all_families], horizontal=False)
    _label_bars(ax, b2, [f"{c:,}" for c in eligible], horizontal=False)
    ax.set_xticks(x, list(sizes))
    ax.set_xlabel("members in the family")
    ax.set_ylabel("families")
    ax.set_ylim(0, max(list(all_families) + [1]) * 1.2)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(frameon=False, fontsize=8)
    return to_svg(fig, "Families by number of members, all and eligible")


@_style
def share_chart(labels: Sequence[str], shares: Sequence[float], *, xlabel: str, title: str) -> str:
    """Horizontal bars of shares (0-1) by group, labelled as percentages."""
    fig, ax = plt.subplots(figsize=(6.0, 0.3 * len(labels) + 0.9))
    y = np.arange(len(labels))[::-1]
    values = np.asarray(shares, dtype=float)
    bars = ax.barh(y, values, color=SKY, height=0.65)
    _label_bars(ax, bars, [f"{v:.1%}" for v in values], horizontal=True)
    ax.set_yticks(y, [_wrap(str(x), 30) for x in labels])
    ax.set_xlim(0, min(1.0, max(float(values.max()) if len(values) else 0.0, 0.05) * 1.25))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.set_xlabel(xlabel)
    return to_svg(fig, title)


def match_weights_chart(levels: Sequence[tuple[str, str, float, bool]]) -> str:
    """Each comparison level's match weight (comparison, level, weight, flagged) as horizontal
    bars, comparisons in order and levels from the strongest down, as Splink draws them; a
    flagged level (a partial one weighing more than exact agreement) is drawn in orange and marked."""
    n = len(levels)
    fig, ax = plt.subplots(figsize=(7.5, 0.8 + 0.2 * n))
    y = np.arange(n)[::-1]
    weights = np.array([w for _, _, w, _ in levels], dtype=float)
    colours = [ORANGE if flag else (BLUE if w >= 0 else VERMILION) for _, _, w, flag in levels]
    ax.barh(y, weights, color=colours, height=0.7)
    ax.axvline(0, color=DARK, lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels([f"{c}: {lv}" + ("  (!)" if flag else "") for c, lv, _, flag in levels])
    names = [c for c, _, _, _ in levels]
    for k in range(1, n):
        if names[k] != names[k - 1]:
            ax.axhline(y[k] + 0.5, color="#dddddd", lw=0.6)
    ax.set_xlabel("match weight (log2 of m / u)")
    ax.set_ylim(-0.6, n - 0.4)
    return to_svg(fig, "Match weight of every comparison level, partial levels that outweigh exact agreement marked (!)")


def threshold_chart(thresholds: np.ndarray, precision: np.ndarray, recall: np.ndarray,
                    match_weight: float, review_weight: float) -> str:
    """Precision and recall against the clerical decisions at every link threshold one could
    choose, with the threshold in force and the start of the review band marked."""
    fig, ax = plt.subplots(figsize=(7.0, 2.8))
    ax.step(thresholds, precision, where="post", color=BLUE, label="precision")
    ax.step(thresholds, recall, where="post", color=GREEN, label="recall")
    ax.axvline(match_weight, color=VERMILION, lw=1.2, label=f"link threshold ({match_weight:.1f})")
    ax.axvline(review_weight, color=ORANGE, lw=1.2, ls="--", label=f"review from ({review_weight:.1f})")
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("link threshold (match weight)")
    ax.set_ylabel("share of decided pairs")
    ax.legend(loc="lower left", frameon=False, fontsize=8)
    return to_svg(fig, "Precision and recall against the clerical decisions at each possible link threshold")


@_style
def movement_chart(titles: Sequence[str], gained: Sequence[int], arrived: Sequence[int],
                   lost: Sequence[int], went: Sequence[int]) -> str:
    """Each criterion's movement since last quarter, as bars either side of zero: to the right
    the families that now meet it (continuing families that gained it, then new families), to
    the left those that no longer do (continuing families that lost it, then families that
    left). The net change is written at the right."""
    fig, ax = plt.subplots(figsize=(6.8, 0.5 * len(titles) + 1.1))
    y = np.arange(len(titles))[::-1]
    g, a = np.asarray(gained, dtype=float), np.asarray(arrived, dtype=float)
    lo, w = np.asarray(lost, dtype=float), np.asarray(went, dtype=float)
    ax.barh(y, g, color=GREEN, height=0.6, label="continuing families: gained")
    ax.barh(y, a, left=g, color="#8fd3bd", height=0.6, label="new families meeting it")
    ax.barh(y, -lo, color=VERMILION, height=0.6, label="continuing families: lost")
    ax.barh(y, -w, left=-lo, color="#f0b48c", height=0.6, label="families that left")
    reach = max(float((g + a).max()) if len(g) else 0.0, float((lo + w).max()) if len(lo) else 0.0, 1.0)
    for yi, up, down in zip(y, g + a, lo + w):
        net = int(up - down)
        ax.annotate(f"{net:+,}", (reach * 1.12, yi), va="center", ha="left", fontsize=8, color=DARK,
                    annotation_clip=False)
    ax.axvline(0, color="#666666", lw=0.8)
    ax.set_yticks(y, [_wrap(t) for t in titles])
    ax.set_xlim(-reach * 1.1, reach * 1.1)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{abs(int(v)):,}"))
    ax.set_xlabel("families: fewer meet it  ←   →  more meet it   (net change at the right)")
    ax.legend(frameon=False, fontsize=7.5, ncol=2, loc="lower center", bbox_to_anchor=(0.5, 1.0))
    return to_svg(fig, "How each criterion moved since last quarter")
