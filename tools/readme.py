"""Regenerate README's measured numbers from docs/benchmarks/*.json.

``python -m tools.readme`` (``make readme``) rewrites every generated block of README.md;
``python -m tools.readme check`` prints a unified diff and exits 1 when README.md is not what it
would write (``tests/test_readme.py`` fails then too).

A block sits between ``<!-- NAME:start ... -->`` and ``<!-- NAME:end -->``. When the start mark
ends its line, the lines between the marks are a table; when it does not, the text between the
marks is one number in a sentence. Words ``key=value`` in the start mark are the arguments of the
block's renderer (``RENDERERS``); text in parentheses is a note for readers::

    <!-- bench:ladder:start n=100 (regenerate with: make readme) -->
    | strategy | N | test accuracy | train s | peak RSS MB | seeds |
    ...
    <!-- bench:ladder:end -->
    and fine-tuning <!-- bench:accuracy:start strategy=fine_tune n=100 -->98.2%<!-- bench:accuracy:end -->

The numbers come from what ``make bench`` and ``make bench-notebooks`` write (``docs/benchmarks/``)
and from the bundled base's card (``helpers/weights/``); the "Open in Colab" table (``notebooks``)
is ``tools.notebooks.readme_links``.
"""

from __future__ import annotations

import difflib
import inspect
import json
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from helpers.evidence.claims import format_effect
from tools.formats import megabytes, percent, seconds, table
from tools.notebooks import readme_links, student_notebooks

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = Path("docs") / "benchmarks"
BASE_CARD = Path("helpers") / "weights" / "mobilenetv2_035_96_source.json"
UNLABELED_CARD = Path("helpers") / "weights" / "mobilenetv2_035_96_unlabeled.json"
#: README's name for each rung of the ladder, in the ladder's order: (full table, table by N).
STRATEGY_LABELS = {
    "pixels_logreg": ("logistic regression on pixels", "pixels"),
    "scratch_cnn": ("small CNN from scratch (3 learning rates, at least 60 s each)", "small CNN from scratch"),
    "feature_extraction": (
        "feature extraction (frozen bundled base, mirror images too, logistic regression)",
        "feature extraction",
    ),
    "fine_tune": (
        "fine-tuning the last 3 blocks at a low learning rate, from feature extraction's head",
        "fine-tuning",
    ),
}
#: README's name for a notebook of notebooks.json, where it is not the path without ``.ipynb``.
NOTEBOOK_LABELS = {
    "solutions/sunglasses_vs_hat/sunglasses_vs_hat.ipynb": (
        "solutions/sunglasses_vs_hat (the exercise, solved, with its night-camera exploration)"
    ),
}
MARK = re.compile(r"<!-- (?P<name>[\w:-]+?):(?P<kind>start|end)\b(?P<words>[^>]*?)-->")


def load(root: Path, name: str) -> list | dict:
    """The records of one benchmark file, ``docs/benchmarks/<name>``."""
    return json.loads((root / BENCHMARKS / name).read_text())


def ladder_row(rows: list[dict], strategy: str, n: int) -> dict:
    """The ladder.json row of one strategy at one N."""
    for row in rows:
        if row["strategy"] == strategy and row["n"] == n:
            return row
    raise ValueError(f"{BENCHMARKS / 'ladder.json'} has no row for strategy {strategy!r} at N = {n}")


def strategies(rows: list[dict]) -> list[str]:
    """The strategies of ladder.json, in the ladder's order (README names each one)."""
    unknown = {row["strategy"] for row in rows} - set(STRATEGY_LABELS)
    if unknown:
        raise ValueError(f"no README label for strategies {sorted(unknown)}: add them to tools.readme.STRATEGY_LABELS")
    return [s for s in STRATEGY_LABELS if any(row["strategy"] == s for row in rows)]


def ladder_table(rows: list[dict], n: int) -> str:
    """The ladder at one N: each strategy's median test accuracy, train seconds, peak RSS and seeds."""
    cells = []
    for strategy in strategies([row for row in rows if row["n"] == n]):
        row = ladder_row(rows, strategy, n)
        cells.append(
            [
                STRATEGY_LABELS[strategy][0],
                str(n),
                percent(row["accuracy"]),
                seconds(row["train_s"]),
                megabytes(row["peak_rss_mb"]),
                str(row["seeds"]),
            ]
        )
    if not cells:
        raise ValueError(f"{BENCHMARKS / 'ladder.json'} has no rows at N = {n}")
    return table(["strategy", "N", "test accuracy", "train s", "peak RSS MB", "seeds"], cells)


def ladder_by_n_table(rows: list[dict]) -> str:
    """The ladder at every N: one row per N, each strategy's accuracy, and fine-tuning's train seconds."""
    names = strategies(rows)
    cells = []
    for n in sorted({row["n"] for row in rows}):
        mine = {row["strategy"]: row for row in rows if row["n"] == n}
        accuracies = [percent(mine[s]["accuracy"]) if s in mine else "" for s in names]
        tuned = seconds(mine["fine_tune"]["train_s"]) if "fine_tune" in mine else ""
        cells.append([str(n), *accuracies, tuned])
    return table(["N", *(STRATEGY_LABELS[s][1] for s in names), "fine-tuning s"], cells)


def notebooks_table(rows: list[dict], colab: list[dict] | None = None) -> str:
    """Seconds and peak RSS of each notebook, the lectures in all, then ``make autograde`` of one submission.

    With ``colab`` (notebooks-colab.json), two more columns: the same in Colab's environment.
    """
    notebooks = sorted(
        (row for row in rows if row["notebook"].endswith(".ipynb")),
        key=lambda row: (not row["notebook"].startswith("lectures/"), row["notebook"]),
    )
    on_colab = {row["notebook"]: row for row in colab or []}

    def measured(rows: list[dict]) -> list[str]:
        if not rows:
            return ["", ""]
        return [f"{sum(row['seconds'] for row in rows):.1f}", megabytes(max(row["peak_rss_mb"] for row in rows))]

    def colab_cells(names: list[str]) -> list[str]:
        if colab is None:
            return []
        return measured([on_colab[name] for name in names]) if all(name in on_colab for name in names) else ["", ""]

    cells = [
        [
            NOTEBOOK_LABELS.get(row["notebook"], row["notebook"].removesuffix(".ipynb")),
            *measured([row]),
            *colab_cells([row["notebook"]]),
        ]
        for row in notebooks
    ]
    lectures = [row for row in notebooks if row["notebook"].startswith("lectures/")]
    if lectures:
        cells.append(["all lectures", *measured(lectures), *colab_cells([row["notebook"] for row in lectures])])
    for row in rows:
        if row["notebook"] == "make autograde, one submission":
            cells.append(
                [
                    f"`make autograde`, one submission (the experiment skipped), of which "
                    f"{row['outside_checks_seconds']:.1f} s run the hidden tests outside the kernel",
                    f"{row['seconds']:.1f}",
                    "",
                    *colab_cells([]),
                ]
            )
    header = ["notebook", "seconds", "peak RSS MB"]
    return table(header + (["on Colab's versions: seconds", "peak RSS MB"] if colab is not None else []), cells)


def generator_speed(speeds: dict[str, float]) -> str:
    """Images per CPU-second of the slower generator, to the nearest ten (README says "about").

    Examples
    --------
    >>> generator_speed({"sunglasses_vs_hat": 618.9, "source_task": 619.3})
    '620'
    """
    return f"{round(min(speeds.values()), -1):.0f}"


def claims_table(rows: list[dict]) -> str:
    """The claims ledger: each claim's lecture, words, mean effect, 95% interval, seeds and verdict."""
    cells = []
    for row in rows:
        low, high = (format_effect(value, row["unit"]) for value in row["ci95"])
        cells.append(
            [
                f"`{row['id']}`",
                row["lecture"].split("_")[0],
                row["claim"],
                format_effect(row["effect"], row["unit"]),
                f"{low} to {high}",
                str(row["seeds"]),
                "yes" if row["holds"] else "**no**",
            ]
        )
    return table(["claim", "lecture", "what the lecture says", "effect", "95% interval", "seeds", "holds"], cells)


def _claims(root: Path) -> str:
    return claims_table(load(root, "claims.json"))


def _ladder(root: Path, n: str) -> str:
    return ladder_table(load(root, "ladder.json"), int(n))


def _ladder_by_n(root: Path) -> str:
    return ladder_by_n_table(load(root, "ladder.json"))


def _notebooks(root: Path) -> str:
    colab = root / BENCHMARKS / "notebooks-colab.json"
    return notebooks_table(load(root, "notebooks.json"), load(root, colab.name) if colab.exists() else None)


def _accuracy(root: Path, strategy: str, n: str) -> str:
    return percent(ladder_row(load(root, "ladder.json"), strategy, int(n))["accuracy"])


def _accuracy_per_seed(root: Path, strategy: str, n: str) -> str:
    per_seed = ladder_row(load(root, "ladder.json"), strategy, int(n))["accuracy_per_seed"]
    return "/".join(percent(a).removesuffix("%") for a in per_seed) + "%"


def _train_s(root: Path, strategy: str, n: str) -> str:
    return seconds(ladder_row(load(root, "ladder.json"), strategy, int(n))["train_s"]) + " s"


def _ladder_peak_rss(root: Path) -> str:
    return megabytes(max(row["peak_rss_mb"] for row in load(root, "ladder.json"))) + " MB"


def _generator(root: Path) -> str:
    return generator_speed(load(root, "generator.json")["images_per_cpu_second"])


def _base_card(root: Path, field: str) -> str:
    return percent(json.loads((root / BASE_CARD).read_text())[field])


def _unlabeled_card(root: Path, field: str) -> str:
    """A number of the unlabeled base's card: ``twin_found_last_epoch``, ``probe`` (its target probe) or ``minutes``."""
    card = json.loads((root / UNLABELED_CARD).read_text())
    if field == "minutes":
        return f"{card['seconds']['training'] / 60:.0f}"
    if field == "probe":
        return percent(card["target_probe_accuracy"]["this base"])
    return percent(card[field])


def _grading(root: Path) -> str:
    record = load(root, "grading.json")
    return table(
        ["engine", "submissions", "wall s", "submissions per hour", "grading s (mean)", "outside the tasks, s each"],
        (
            [
                run["engine"],
                str(run["copies"]),
                seconds(run["wall_s"]),
                f"{run['submissions_per_hour']:.1f}",
                seconds(run["grading_s_mean"]),
                "" if run["outside_tasks_s_per_submission"] is None else f"{run['outside_tasks_s_per_submission']:.2f}",
            ]
            for run in record["runs"]
        ),
    )


def _grading_projection(root: Path) -> str:
    rows = load(root, "grading.json")["projection"]
    return table(
        ["workers (one per 2-core machine)", "submissions", "projected wall time"],
        ([str(row["workers"]), str(row["submissions"]), f"{row['hours']:.1f} h"] for row in rows),
    )


def _grading_number(root: Path, field: str) -> str:
    """A number of grading.json: ``engine_overhead_s_per_submission``, ``engine_overhead_percent``, ``speedup...``."""
    value = load(root, "grading.json")[field]
    return f"{value:+.2f}" if field.startswith("engine_overhead") else f"{value:.2f}"


def _exercise_night(root: Path) -> str:
    night = load(root, "exercise.json")["night"]
    rows = night["hidden_accuracy"].items()
    return table(
        ["night-camera choice", f"hidden accuracy over {night['seeds']} seeds", "mean"],
        ([name, f"{percent(min(a))} to {percent(max(a))}", percent(sum(a) / len(a))] for name, a in rows),
    )


def _exercise_agreement(root: Path) -> str:
    verdicts = ["right, grader passed", "right, grader failed", "close, grader passed", "close, grader failed"]
    cells = load(root, "exercise.json")["agreement"]["cells"]
    return table(
        ["test cell", *(f"self-check {v}" for v in verdicts), "self-check failed, grader passed / failed"],
        (
            [cell, *(str(counts.get(v, 0)) for v in verdicts)]
            + [f"{counts.get('failed, grader passed', 0)} / {counts.get('failed, grader failed', 0)}"]
            for cell, counts in cells.items()
        ),
    )


def _exercise_number(root: Path, section: str, field: str) -> str:
    """A value of exercise.json's ``section``, as is, or for accuracies over seeds their range ("97.2% to 98.5%")."""
    value = load(root, "exercise.json")[section][field]
    return f"{percent(min(value))} to {percent(max(value))}" if isinstance(value, list) else str(value)


#: What each marker name renders, from the repository at ``root`` and the marker's ``key=value`` words.
RENDERERS: dict[str, Callable[..., str]] = {
    "notebooks": readme_links,
    "bench:ladder": _ladder,
    "bench:ladder-by-n": _ladder_by_n,
    "bench:notebooks": _notebooks,
    "bench:accuracy": _accuracy,
    "bench:accuracy-per-seed": _accuracy_per_seed,
    "bench:train-s": _train_s,
    "bench:ladder-peak-rss": _ladder_peak_rss,
    "bench:generator": _generator,
    "bench:base-card": _base_card,
    "bench:unlabeled-card": _unlabeled_card,
    "bench:claims": _claims,
    "bench:grading": _grading,
    "bench:grading-projection": _grading_projection,
    "bench:grading-number": _grading_number,
    "bench:exercise-night": _exercise_night,
    "bench:exercise-agreement": _exercise_agreement,
    "bench:exercise-number": _exercise_number,
}


def sources(root: Path = ROOT) -> list[Path]:
    """Every file README's generated blocks are made from."""
    return [
        root / "pyproject.toml",
        *sorted((root / BENCHMARKS).glob("*.json")),
        root / BASE_CARD,
        root / UNLABELED_CARD,
        *student_notebooks(root),
    ]


def marker_arguments(words: str) -> dict[str, str]:
    """The ``key=value`` words of a start mark, without its notes in parentheses.

    Examples
    --------
    >>> marker_arguments(" strategy=fine_tune n=100 (regenerate with: make readme) ")
    {'strategy': 'fine_tune', 'n': '100'}
    """
    arguments = {}
    for word in re.sub(r"\([^)]*\)", " ", words).split():
        key, equals, value = word.partition("=")
        if not equals or not key:
            raise ValueError(f"{word!r} is not key=value (put notes in parentheses)")
        arguments[key.replace("-", "_")] = value
    return arguments


def render(name: str, arguments: dict[str, str], root: Path = ROOT) -> str:
    """What the block ``name`` holds, given its start mark's arguments."""
    if name not in RENDERERS:
        raise ValueError(f"unknown marker <!-- {name}:start -->; known markers: {', '.join(RENDERERS)}")
    renderer = RENDERERS[name]
    try:
        inspect.signature(renderer).bind(root, **arguments)
    except TypeError as exc:
        wanted = list(inspect.signature(renderer).parameters)[1:]
        raise ValueError(
            f"marker <!-- {name}:start --> takes {wanted or 'no arguments'}, not {arguments}: {exc}"
        ) from None
    return renderer(root, **arguments)


def where(text: str, mark: re.Match) -> str:
    r"""A mark and its line, for messages.

    Examples
    --------
    >>> where("a\nb <!-- x:end -->", MARK.search("a\nb <!-- x:end -->"))
    'README.md line 2: <!-- x:end -->'
    """
    return f"README.md line {text.count(chr(10), 0, mark.start()) + 1}: {mark[0]}"


def blocks(text: str) -> list[tuple[re.Match, re.Match]]:
    """The (start mark, end mark) pairs of a README, in order; raises on a mark without its pair."""
    pairs, opened = [], None
    for mark in MARK.finditer(text):
        if mark["kind"] == "start":
            if opened is not None:
                raise ValueError(f"{where(text, opened)} is not closed before {where(text, mark)}")
            opened = mark
        elif opened is None or opened["name"] != mark["name"]:
            raise ValueError(f"{where(text, mark)} closes no <!-- {mark['name']}:start --> block")
        else:
            pairs.append((opened, mark))
            opened = None
    if opened is not None:
        raise ValueError(f"{where(text, opened)} has no <!-- {opened['name']}:end -->")
    return pairs


def regenerate(text: str, root: Path = ROOT) -> str:
    """README ``text`` with every marked block rewritten from the records under ``root``."""
    pieces, done = [], 0
    for start, end in blocks(text):
        try:
            rendered = render(start["name"], marker_arguments(start["words"]), root)
        except (ValueError, KeyError, OSError) as exc:
            detail = f"its record has no {exc}" if isinstance(exc, KeyError) else exc
            raise ValueError(f"{where(text, start)}: {detail}") from None
        on_own_line = text.startswith("\n", start.end())
        if not on_own_line and not text[text.rfind("\n", 0, start.start()) + 1 : start.start()].strip():
            raise ValueError(
                f"{where(text, start)} starts a line, so markdown would show the rest of that line as "
                "raw HTML: put a word before it"
            )
        pieces += [text[done : start.end()], f"\n{rendered}\n" if on_own_line else rendered]
        done = end.start()
    return "".join([*pieces, text[done:]])


def main(argv: Iterable[str] | None = None, root: Path = ROOT) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command = args[0] if args else "write"
    if command not in ("write", "check") or len(args) > 1:
        print(f"usage: python -m tools.readme [write|check], not {' '.join(args)!r}", file=sys.stderr)
        return 2
    readme = root / "README.md"
    text = readme.read_text()
    try:
        fresh = regenerate(text, root)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if command == "check":
        diff = difflib.unified_diff(
            text.splitlines(keepends=True), fresh.splitlines(keepends=True), "README.md", "README.md (make readme)"
        )
        sys.stdout.writelines(diff)
        if fresh != text:
            print("README.md differs from docs/benchmarks/*.json: run `make readme`")
            return 1
        print("README.md is up to date")
        return 0
    if fresh != text:
        readme.write_text(fresh)
    print(f"README.md {'rewritten' if fresh != text else 'already up to date'} ({len(blocks(fresh))} generated blocks)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
