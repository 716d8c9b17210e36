"""What the published marts say they lack, for `hexo-pipeline marts` to warn about after a build.

Reads three marts of the published file (read-only): `fct_subject_day_completeness` (subject-days of the
calendar whose expected datasets are missing), `rpt_quarantine` (files that could not be decoded) and
`rpt_build_checks` (the build's checks that warned or failed). Counting and naming only: the marts hold
the figures.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import duckdb

NAMED = 5  # examples named per line; the marts list them all


@dataclass
class Gaps:
    no_records: int = 0  # calendar days without records (not worn, or not ingested)
    no_records_examples: list[str] = field(default_factory=list)
    incomplete: int = 0  # subject-days with records but an expected family missing, or a file quarantined
    incomplete_examples: list[str] = field(default_factory=list)
    quarantined: int = 0  # files in quarantine
    quarantined_examples: list[str] = field(default_factory=list)
    checks: int = 0  # checks of the build that warned or failed
    checks_examples: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.no_records or self.incomplete or self.quarantined or self.checks)


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    try:
        return con.execute(sql).fetchall()  # every result read to the end (DuckDB 2.0 connections)
    except duckdb.CatalogException:  # a file published before these marts existed
        return []


def completeness_gaps(published: str | os.PathLike[str]) -> Gaps:
    """The gaps the published marts record."""
    con = duckdb.connect(str(published), read_only=True)
    try:
        gaps = Gaps()
        # Counted in SQL, a few named: a long study has hundreds of thousands of gap rows.
        gap_days = (
            "select username, local_date, family = 'records' and status = 'missing' as no_records, "
            "string_agg(family || ' ' || status, ', ' order by family) as what "
            "from marts.fct_subject_day_completeness where is_gap group by all"
        )
        counts = _rows(
            con, f"select count(*) filter (where no_records), count(*) filter (where not no_records) from ({gap_days})"
        )
        if counts:
            gaps.no_records, gaps.incomplete = counts[0]
        for username, day, no_records, what in _rows(
            con,
            f"(select * from ({gap_days}) where no_records order by username, local_date limit {NAMED}) union all "
            f"(select * from ({gap_days}) where not no_records order by username, local_date limit {NAMED})",
        ):
            if no_records:
                gaps.no_records_examples.append(f"{username} {day}")
            else:
                gaps.incomplete_examples.append(f"{username} {day} ({what})")
        files = _rows(con, "select area || '/' || file, reason from marts.rpt_quarantine order by area, file")
        gaps.quarantined = len(files)
        gaps.quarantined_examples = [f"{f} ({reason})" for f, reason in files[:NAMED]]
        checks = _rows(
            con,
            "select check_name, status, failures from marts.rpt_build_checks "
            "where status not in ('pass', 'skipped') order by status, check_name",
        )
        gaps.checks = len(checks)
        gaps.checks_examples = [f"{name} {status} ({failures} rows)" for name, status, failures in checks[:NAMED]]
        return gaps
    finally:
        con.close()


def gaps_warning(gaps: Gaps) -> str | None:
    """The lines `hexo-pipeline marts` prints (None when nothing is missing)."""
    if not gaps:
        return None

    def line(n: int, what: str, examples: list[str]) -> str:
        """`what` names n things: 'subject-day(s) ...' reads 'subject-day' for 1 and 'subject-days' otherwise."""
        more = ", ..." if n > len(examples) else ""
        return f"  {n} {what.replace('(s)', '' if n == 1 else 's')}: {', '.join(examples)}{more}"

    lines = ["warning: the marts do not hold everything the study expects:"]
    if gaps.incomplete:
        lines.append(
            line(gaps.incomplete, "subject-day(s) with missing or quarantined datasets", gaps.incomplete_examples)
        )
    if gaps.no_records:
        lines.append(
            line(
                gaps.no_records,
                "subject-day(s) of the calendar without records (not worn, or not ingested)",
                gaps.no_records_examples,
            )
        )
    if gaps.quarantined:
        lines.append(line(gaps.quarantined, "file(s) in quarantine", gaps.quarantined_examples))
    if gaps.checks:
        lines.append(line(gaps.checks, "check(s) of the build warned or failed", gaps.checks_examples))
    lines.append("  (all of them: marts.fct_subject_day_completeness, marts.rpt_quarantine, marts.rpt_build_checks)")
    return "\n".join(lines)
