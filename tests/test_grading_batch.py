"""The adversarial batch graded on a Dask cluster and serially: every submission gets the score it should.

The batch graded under one seed on a scheduler and two workers, and its part ``GRADED_HERE_TOO``
again one submission after another in this process, must agree in every score and file; no page
may hold the seed, the hidden tests or the hidden photos' pixels, in any encoding; no process may
outlive its submission.
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from grading_harness import GRADED_HERE_TOO, files_in
from grading_submissions import (
    CHEAT_MOST,
    FLOODS_FEEDBACK,
    MESSY_BUT_RIGHT,
    SHADOWS_BUILTINS,
    pixel_codes,
    release,
    solution,
)

from grading import hidden_tests, secrecy


@pytest.mark.slow
def test_every_submission_gets_the_score_it_should(batches):
    got = batches["first"]["grades"]
    wrong = {s: (got.get(s), should) for s, should in batches["expected"].items() if got.get(s) != should}
    assert not wrong, {s: (v, batches["first"]["by_cell"].get(s)) for s, v in wrong.items()}
    assert "linked" not in got and "linked.ipynb is a symbolic link: refused" in batches["first"]["stdout"]
    assert "corrupt" in batches["first"]["stdout"] and "not a readable notebook" in batches["first"]["stdout"]


@pytest.mark.slow
def test_graded_one_after_another_here_the_part_gets_the_same_scores_and_files_as_on_the_cluster(batches):
    part = set(GRADED_HERE_TOO)
    assert batches["second"]["by_cell"] == {s: c for s, c in batches["first"]["by_cell"].items() if s in part}
    assert batches["second"]["grades"] == {s: g for s, g in batches["first"]["grades"].items() if s in part}
    mine = {f for f in files_in(batches["first"]["out"]) if Path(f).stem in part or "/" not in f}
    assert files_in(batches["second"]["out"]) == mine
    assert "to grade on the Dask cluster at tcp://127.0.0.1" in batches["first"]["stdout"]
    workers = {json.loads(p.read_text())["worker"] for p in (batches["first"]["out"] / "results").glob("*.json")}
    assert len(workers) == 2, f"both workers grade: {workers}"


@pytest.mark.slow
def test_points_before_a_dead_or_hung_kernel_are_kept_and_explained(batches):
    for student_id, says in (("dies_after_head", "the kernel died"), ("hangs_after_head", "time limit")):
        cells = batches["first"]["by_cell"][student_id]
        assert cells["check-head"] == 3 and cells["check-tune"] == 0, cells
        page = (batches["first"]["out"] / "feedback" / f"{student_id}.html").read_text()
        assert says in page and "this cell did not run" in page, student_id


@pytest.mark.slow
def test_honest_names_cost_nothing_and_the_self_check_still_says_what_it_saw(batches):
    page = (batches["first"]["out"] / "feedback" / f"{SHADOWS_BUILTINS}.html").read_text()
    assert "Your self-check said: TypeError" in page and "Grader's check: passed" in page


@pytest.mark.slow
def test_the_seed_and_hidden_tests_never_reach_a_kernel_nor_a_feedback_page(batches):
    seed = str(batches["seed"])
    hidden = hidden_tests.split_hidden_tests(solution().cells)
    forms = secrecy.secret_forms(batches["seed"], hidden, "\n".join(c.source for c in release().cells))
    for batch in ("first", "second"):  # on every worker of the cluster, and in this process
        pages = list((batches[batch]["out"] / "feedback").glob("*.html"))
        graded = batches["expected"] if batch == "first" else GRADED_HERE_TOO
        assert len(pages) == len(graded) - 1  # all but the unreadable one
        for page in pages:
            text = page.read_text()
            assert not secrecy.leaks(text, forms) and "Feedback withheld" not in text, page.name
            assert "hidden_accuracy(" not in text and "changed_pretrained_layers(" not in text, page.name
        hunter = (batches[batch]["out"] / "feedback" / "hunts_secrets.html").read_text()
        assert "CANDIDATE SEEDS" in hunter and seed not in hunter and "HIDDEN TESTS FOUND False" in hunter, batch
        assert "STRAY COPIES FOUND 0" in hunter, "copies of the course outside the checkout stay out of sight"


@pytest.mark.slow
def test_a_model_that_learned_nothing_earns_nothing_and_its_errors_carry_no_hidden_pixels(batches):
    from helpers.tasks import make_sunglasses_vs_hat

    codes = pixel_codes(make_sunglasses_vs_hat(1000, seed=batches["seed"])[0])
    cells = batches["first"]["by_cell"]["cheats_without_learning"]
    assert cells["check-head"] == 0 and cells["check-tune"] == 0 and sum(cells.values()) <= CHEAT_MOST, cells
    out = batches["first"]["out"]
    page = (out / "feedback" / "cheats_without_learning.html").read_text()
    assert "InvalidArgumentError raised while the grader checked" in page, "the head's error, by its type only"
    assert "changes with the other photos of its batch" in page, "the batch-position model is caught"
    assert "found OOV values" in (out / "logs" / "cheats_without_learning.txt").read_text(), "details: the log"
    for batch in ("first", "second"):
        for path in (batches[batch]["out"] / "feedback").glob("*.html"):
            text = re.sub(r"data:image/[^\"']+", "", html.unescape(path.read_text()))
            assert not codes & set(re.findall(r"[0-9]+", text)), f"{path.name} shows pixels of the hidden photos"


@pytest.mark.slow
def test_odd_metadata_a_deleted_cell_a_forged_log_and_a_linked_hand_in(batches):
    out = batches["first"]["out"]
    assert batches["first"]["by_cell"][MESSY_BUT_RIGHT] == batches["first"]["by_cell"]["good"]
    log = (out / "logs" / f"{MESSY_BUT_RIGHT}.txt").read_text()
    assert log.startswith("Graded by "), log[:300]
    kernel = log.index("--- written by the submission's kernel")
    assert "FORGED" in log[kernel:] and "FORGED" not in log[:kernel], "the kernel writes only its own section"
    assert "check-data (deleted: restored)" in log
    page = (out / "feedback" / f"{MESSY_BUT_RIGHT}.html").read_text()
    assert "Click for the answers" in page
    assert not re.search(r"""(href|src)\s*=\s*["']?\s*(javascript|vbscript):""", page, re.IGNORECASE)
    linked = (out / "feedback" / "links_hand_in.html").read_text()
    assert "the hand-in folder was replaced by a link or a file: refused" in linked


@pytest.mark.slow
def test_no_process_outlives_its_submission(batches):
    leftover = subprocess.run(["pgrep", "-f", "course-test-orphan"], capture_output=True, text=True)
    assert leftover.stdout == "", f"processes of a graded submission still run: {leftover.stdout}"


@pytest.mark.slow
def test_feedback_is_bounded_and_inert_and_grades_are_private(batches):
    out = batches["first"]["out"]
    page = out / "feedback" / f"{FLOODS_FEEDBACK}.html"
    assert page.stat().st_size < 3_000_000
    text = page.read_text()
    where = text.find("<script>document.title")
    assert where < 0, f"the student's script output is on the page: {text[max(0, where - 400) : where + 100]!r}"
    assert not re.search(r"<img[^>]*onerror", text), "the reflection's <img onerror> is shown as text, not a tag"
    for path in [out, *out.rglob("*")]:
        assert path.stat().st_mode & 0o077 == 0, f"{path} is readable by others"
    chromium = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    if not chromium.exists():
        if os.environ.get("COURSE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser required, but no Chromium at {chromium}")
        return
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), headless=True, args=["--no-sandbox", "--disable-background-networking"]
        )
        try:
            view = browser.new_page()
            view.goto(page.as_uri())
            view.wait_for_timeout(1000)
            assert view.evaluate("window.pwned === undefined") and view.title() != "pwned"
            assert "Grader's check: passed" in view.inner_text("body")
        finally:
            browser.close()


@pytest.mark.slow
def test_the_solution_hands_in_every_graded_step(batches):
    assert batches["first"]["by_cell"]["good"] == {
        "check-data": 1,
        "check-head": 3,
        "check-model": 2,
        "check-night": 3,
        "check-predict": 1,
        "check-quiz": 2,
        "check-tune": 3,
        "reflection": 0,
    }
    page = (batches["first"]["out"] / "feedback" / "good.html").read_text()
    assert "Not run while grading (tagged skip-execution)" in page, "the experiment is skipped, and says so"
