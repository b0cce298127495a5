"""The term's rules for the exercise: its due date, the late policy, and when each student handed in.

The instructor sets them once, in ``term.toml`` at the top of the course (README: "For
instructors, from zero"); submission times come from nbgrader's ``timestamp.txt`` files (what
``nbgrader collect`` and ``zip_collect`` leave beside each notebook) or from a file of times the
instructor gives (``student_id,submitted``). Times without a zone are read as UTC, as nbgrader
reads them.
"""

from __future__ import annotations

import csv
import math
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from grading.protocol import ASSIGNMENT, ROOT

TERM_FILE = ROOT / "term.toml"
PERIODS = {"day": timedelta(days=1), "hour": timedelta(hours=1)}
POLICIES = ("none", "per-day", "per-hour")


@dataclass(frozen=True)
class LatePolicy:
    """When the exercise is due, and what handing it in late costs.

    ``policy`` is ``"none"`` (late work costs nothing) or ``"per-day"`` / ``"per-hour"``:
    ``deduction`` percent of the points for each day or hour late, any part counting as a whole
    one. After ``cutoff`` (if set) late work earns zero, whatever the policy.
    """

    due: datetime | None = None
    policy: str = "none"
    deduction: float = 0.0
    cutoff: datetime | None = None

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"late_policy = {self.policy!r} in term.toml: use one of {', '.join(POLICIES)}")
        if not 0 <= self.deduction <= 100:
            raise ValueError(f"late_deduction_percent = {self.deduction!r} in term.toml: use a number from 0 to 100")
        if self.cutoff is not None and (self.due is None or self.cutoff < self.due):
            raise ValueError(f"cutoff = {self.cutoff} in term.toml needs a due date before it (due = {self.due})")

    def late_by(self, submitted: datetime | None) -> timedelta:
        """How late a submission handed in at ``submitted`` is (zero if on time, or if either time is unknown)."""
        if self.due is None or submitted is None:
            return timedelta(0)
        return max(submitted - self.due, timedelta(0))

    def penalty(self, submitted: datetime | None, earned: float, max_score: float) -> tuple[float, str]:
        """The points taken off ``earned`` (out of ``max_score``) for handing in at ``submitted``, and why, in words."""
        late = self.late_by(submitted)
        if late == timedelta(0):
            return 0.0, ""
        said = f"handed in {describe(late)} after the due date ({self.due:%Y-%m-%d %H:%M %Z})"
        if self.cutoff is not None and submitted > self.cutoff:
            return earned, f"{said}, after the cut-off ({self.cutoff:%Y-%m-%d %H:%M %Z}): no points"
        if self.policy == "none":
            return 0.0, f"{said}: no penalty"
        period = self.policy.removeprefix("per-")
        periods = math.ceil(late / PERIODS[period])
        points = min(earned, round(max_score * self.deduction / 100 * periods, 2))
        return points, f"{said}: {periods} {period}{'s' if periods > 1 else ''} x {self.deduction:g}% of the points"


def describe(late: timedelta) -> str:
    """``late`` in words a student reads: '1 day 2 hours', '35 minutes'."""
    days, rest = late.days, late.seconds
    hours, minutes = rest // 3600, rest % 3600 // 60
    parts = [(days, "day"), (hours, "hour"), (minutes if not days else 0, "minute")]
    words = [f"{n} {unit}{'s' if n != 1 else ''}" for n, unit in parts if n]
    return " ".join(words) or "under a minute"


def _aware(value: object, name: str) -> datetime | None:
    """A term.toml date as an aware datetime: a time zone is required, so that the deadline means one instant."""
    if value is None:
        return None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError(
            f"{name} = {value!r} in term.toml: write a date, time and zone, as in {name} = 2027-03-05T23:59:00-05:00"
        )
    return value


def load_policy(path: Path = TERM_FILE, assignment: str = ASSIGNMENT) -> LatePolicy:
    """The late policy of ``assignment`` in ``path`` (no due date, no policy if the file or its table is missing)."""
    if not path.exists():
        return LatePolicy()
    with open(path, "rb") as f:
        table = tomllib.load(f).get(assignment, {})
    unknown = set(table) - {"due", "late_policy", "late_deduction_percent", "cutoff"}
    if unknown:
        raise ValueError(f"[{assignment}] in {path} has unknown settings {sorted(unknown)}")
    return LatePolicy(
        due=_aware(table.get("due"), "due"),
        policy=table.get("late_policy", "none"),
        deduction=float(table.get("late_deduction_percent", 0)),
        cutoff=_aware(table.get("cutoff"), "cutoff"),
    )


def parse_time(text: str) -> datetime:
    """A submission time as nbgrader writes it (``2027-03-06 01:02:03.456789 UTC``) or in ISO 8601, made aware.

    Read with dateutil, as nbgrader reads it, but not through :func:`nbgrader.utils.parse_utc`,
    which takes a numeric zone such as ``-0500`` for seconds. A time without a zone is UTC.
    """
    from dateutil import parser

    try:
        when = parser.parse(text.strip(), tzinfos={"UTC": UTC})
    except (ValueError, OverflowError) as error:
        raise ValueError(f"{text.strip()!r} is not a time (write 2027-03-06 01:02:03 UTC, or ISO 8601)") from error
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def read_times(submissions: Path, times_file: Path | None = None) -> dict[str, datetime]:
    """When each student handed in: ``timestamp.txt`` in each student's folder, then ``times_file`` over them.

    ``times_file`` is a CSV with columns ``student_id`` and ``submitted``, for instructors whose
    LMS gives times in a list rather than beside each notebook.
    """
    times = {}
    if submissions.is_dir():
        for stamp in sorted(submissions.glob("*/timestamp.txt")) + sorted(
            submissions.glob(f"*/{ASSIGNMENT}/timestamp.txt")
        ):
            student_id = stamp.relative_to(submissions).parts[0]
            times[student_id] = parse_time(stamp.read_text())
    if times_file is not None:
        with open(times_file, newline="") as f:
            rows = list(csv.DictReader(f))
        if rows and not {"student_id", "submitted"} <= set(rows[0]):
            raise ValueError(f"{times_file} needs the columns student_id and submitted; it has {sorted(rows[0])}")
        for row in rows:
            times[row["student_id"].strip()] = parse_time(row["submitted"])
    return times
