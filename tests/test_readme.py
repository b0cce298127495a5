"""tools.readme: README's benchmark tables and numbers are what docs/benchmarks/*.json say (make readme)."""

from __future__ import annotations

import difflib
import json
import shutil
from pathlib import Path

import pytest

from tools.readme import ROOT, main, regenerate, sources

README = (ROOT / "README.md").read_text()


def _copy_sources(tmp_path: Path) -> Path:
    """A copy of README.md and of every file it is generated from, at the same relative paths."""
    for path in [ROOT / "README.md", *sources(ROOT)]:
        target = tmp_path / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return tmp_path


def _set_accuracy(root: Path, strategy: str, n: int, accuracy: float) -> float:
    """Change one ladder.json row's accuracy in place; return the old one."""
    path = root / "docs" / "benchmarks" / "ladder.json"
    rows = json.loads(path.read_text())
    (row,) = [r for r in rows if r["strategy"] == strategy and r["n"] == n]
    old, row["accuracy"] = row["accuracy"], accuracy
    path.write_text(json.dumps(rows, indent=2) + "\n")
    return old


def test_readme_is_what_make_readme_writes():
    fresh = regenerate(README, ROOT)
    diff = "".join(difflib.unified_diff(README.splitlines(True), fresh.splitlines(True), "README.md", "make readme"))
    assert fresh == README, f"README.md disagrees with docs/benchmarks/*.json: run `make readme`\n{diff}"


def test_readme_has_the_benchmark_blocks():
    for name in (
        "notebooks",
        "bench:ladder",
        "bench:ladder-by-n",
        "bench:notebooks",
        "bench:generator",
        "bench:grading",
    ):
        assert f"<!-- {name}:start" in README and f"<!-- {name}:end -->" in README, name


def test_changing_one_ladder_row_changes_exactly_that_number(tmp_path):
    root = _copy_sources(tmp_path)
    old = _set_accuracy(root, "pixels_logreg", 50, 0.611)
    before = (root / "README.md").read_text()
    after = regenerate(before, root)
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b]
    assert old == 0.572
    row = "| 50 | {} | 54.3% | 96.6% | 96.8% | 13.1 |"
    assert changed == [(row.format("57.2%"), row.format("61.1%"))]


def test_check_fails_with_a_diff_until_make_readme_rewrites_it(tmp_path, capsys):
    root = _copy_sources(tmp_path)
    assert main(["check"], root=root) == 0
    _set_accuracy(root, "fine_tune", 100, 0.911)
    assert main(["check"], root=root) == 1
    out = capsys.readouterr().out
    assert "-| fine-tuning the last 3 blocks" in out and "+| fine-tuning the last 3 blocks" in out
    assert "| 100 | 91.1% |" in out and "run `make readme`" in out
    assert main([], root=root) == 0  # make readme
    assert main(["check"], root=root) == 0
    text = (root / "README.md").read_text()
    assert text.count("91.1%") == README.count("91.1%") + 3  # both ladder tables and the sentence on pretraining


def test_an_unknown_marker_is_named_in_the_error():
    text = "Intro\n<!-- bench:ladderr:start (regenerate with: make readme) -->\n| old |\n<!-- bench:ladderr:end -->\n"
    with pytest.raises(ValueError, match=r"unknown marker <!-- bench:ladderr:start -->"):
        regenerate(text, ROOT)


@pytest.mark.parametrize(
    "text, message",
    [
        ("<!-- bench:ladder:start n=100 -->\n| x |\n", "has no <!-- bench:ladder:end -->"),
        ("a\n<!-- bench:ladder:end -->\n", "closes no <!-- bench:ladder:start --> block"),
        ("<!-- bench:ladder:start -->\n\n<!-- bench:ladder:end -->\n", r"takes \['n'\]"),
        ("<!-- bench:ladder:start n=7 -->\n\n<!-- bench:ladder:end -->\n", "no rows at N = 7"),
        ("x <!-- bench:accuracy:start fine_tune -->1%<!-- bench:accuracy:end -->", "is not key=value"),
        ("  <!-- bench:generator:start -->1<!-- bench:generator:end --> images", "starts a line"),
    ],
)
def test_malformed_markers_are_refused_clearly(text, message):
    with pytest.raises(ValueError, match=message):
        regenerate(text, ROOT)


def test_an_inline_block_stays_inline():
    text = "fine-tuning reached <!-- bench:accuracy:start strategy=fine_tune n=20 -->?<!-- bench:accuracy:end -->."
    assert regenerate(text, ROOT) == text.replace("?", "95.0%")
