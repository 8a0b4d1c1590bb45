"""What a person at a terminal sees: a live line per stage with its time, then a summary table.
Off a terminal (cron, pipes) it prints only the plain summary; the log lines tell the story."""
from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from reports.record import RunRecord


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):   # a stream without isatty, or a closed one
        return False


class Display:
    def __init__(self, quiet: bool = False, stream=None):
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.interactive = _is_terminal(self.stream) and not quiet
        self._status = None
        self._console = None
        self._current: str | None = None
        self._t0 = 0.0

    def __enter__(self):
        if self.interactive:
            from rich.console import Console
            self._console = Console(file=self.stream)
            self._status = self._console.status("starting", spinner="dots")
            self._status.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        self._finish_stage(ok=exc_type is None)
        if self._status is not None:
            self._status.stop()
        return False

    def _finish_stage(self, ok: bool = True) -> None:
        if self._current and self._console is not None:
            mark = "[green]✓[/green]" if ok else "[red]✗[/red]"
            self._console.print(f"{mark} {self._current} [dim]({time.perf_counter() - self._t0:.1f}s)[/dim]")
        self._current = None

    def stage(self, name: str) -> None:
        """Called by the pipeline as each stage (or step within linkage) starts."""
        if self._current and name.startswith(self._current + ": "):
            self._current = None   # a stage that reports its own steps: show the steps only
        self._finish_stage()
        self._current = name
        self._t0 = time.perf_counter()
        if self._status is not None:
            self._status.update(f"{name} …")

    # ---- summaries -------------------------------------------------------------------------
    def table(self, title: str, header: list[str], rows: list[list]) -> None:
        rows = [[f"{x:,}" if isinstance(x, int) and not isinstance(x, bool) else x for x in r] for r in rows]
        if self.interactive:
            from rich.table import Table
            table = Table(title=title, title_justify="left")
            for i, h in enumerate(header):
                table.add_column(h, justify="left" if i == 0 else "right")
            for r in rows:
                table.add_row(*[str(x) for x in r])
            self._console.print(table)
            return
        widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h))
                  for i, h in enumerate(header)]
        click.echo(title)
        click.echo("  ".join(str(h).ljust(w) if i == 0 else str(h).rjust(w) for i, (h, w) in enumerate(zip(header, widths))))
        for r in rows:
            click.echo("  ".join(str(x).ljust(w) if i == 0 else str(x).rjust(w) for i, (x, w) in enumerate(zip(r, widths))))

    def validation_summary(self, result) -> None:
        """Read = accepted + rejected per source (`result`: a run's record or a ValidationRun)."""
        rows = []
        for name, v in result.validated.items():
            c = v.counts()
            ok = "ok" if c["read"] == c["accepted"] + c["rejected"] else "MISMATCH"
            rows.append([name, c["read"], c["accepted"], c["rejected"], f"{v.rejected_share:.1%}", c["warnings"],
                         f"{v.warning_share:.1%}", ok])
        total = [sum(r[i] for r in rows) for i in (1, 2, 3)]
        warned = sum(v.rows_with_warnings for v in result.validated.values())
        rows.append(["total", *total, f"{(total[2] / total[0] if total[0] else 0):.1%}", sum(r[5] for r in rows),
                     f"{(warned / total[0] if total[0] else 0):.1%}", ""])
        self.table("Reconciliation (read = accepted + rejected)",
                    ["source", "read", "accepted", "rejected", "rejected %", "warnings", "rows warned %", "check"], rows)
        for name, v in result.validated.items():
            for note in v.notes:
                click.echo(f"note: {name}: {note}")
        if result.output:
            click.echo(f"Rejected rows and warnings written to {result.output}")

    def run_summary(self, record: RunRecord, elapsed: float) -> None:
        """The end of a run: counts, criteria met, where the outputs are."""
        self.validation_summary(record) if not self.quiet else None
        c = record.counts
        rows = [["records in", sum(s["read"] for s in c["sources"])],
                ["records rejected", sum(s["rejected"] for s in c["sources"])],
                ["persons", c["persons"]],
                ["families", c["families"]],
                ["person pairs for clerical review", c["review_pairs"]],
                ["eligible families", c["eligible_families"]]]
        inc = record.linkage.stats.get("incremental")
        if inc:
            rows += [["records new or changed since last run", inc["records_new"] + inc["records_changed"]],
                     ["pairs compared (others reused)", inc["pairs_compared"]]]
        rows.append(["time", f"{elapsed:.1f}s"])
        self.table("Run summary", ["", "count"], rows)
        if record.linkage.stats.get("full_because") and c["previous"]:
            click.echo(f"Linked in full: {record.linkage.stats['full_because']}")
        acc = record.linkage.stats.get("accuracy_from_decisions")
        if acc:
            click.echo(accuracy_line(acc))
        crit = record.scored.summary
        if len(crit):
            rows = [[r["criterion"], "no data" if r["families_meeting"] is None or r["families_meeting"] != r["families_meeting"]
                     or str(r["families_meeting"]) == "<NA>" else r["families_meeting"], r.get("status", "")]
                    for r in crit.to_dict("records")]
            self.table("Families meeting each criterion", ["criterion", "families", "data"], rows)
            missing = [r[0] for r in rows if r[1] == "no data"]
            if missing:
                click.echo("No extract in this run for: " + ", ".join(missing) + " (shown blank in need_matrix.csv, not 0)")
        click.echo(f"Outputs written to {record.output}")


def _share(v) -> str:
    return "n/a" if v is None else f"{v:.1%}"


def accuracy_line(acc: dict) -> str:
    """The run's accuracy judged against the clerical decisions in force (linkage stats)."""
    return (f"Accuracy from {acc['decided_pairs']} clerical decisions ({acc['decided_matches']} matches): "
            f"review band precision {_share(acc['band_precision'])} ({acc['band_decided_pairs']} decided pairs "
            f"in the band); at the link threshold precision {_share(acc['precision_at_threshold'])}, "
            f"recall {_share(acc['recall_at_threshold'])}")
