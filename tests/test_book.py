"""The course as a book (``make book``): built with Jupyter Book, then read in Chromium as a visitor would.

Its inputs are the lectures' executions of this session (``tests/notebook_runs.py``): each lecture
runs once, for the notebook tests and the book alike, whichever comes first.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import nbformat
import pytest

from conftest import SHOTS, free_port, http_get
from tools import book as course_book

pytestmark = pytest.mark.slow
LECTURES = [p.as_posix() for p in course_book.lectures()]
PAGES = [*LECTURES, course_book.EXERCISE.as_posix()]


@pytest.fixture(scope="module")
def built(tmp_path_factory, notebook_runs) -> tuple[Path, dict]:
    for lecture in LECTURES:
        notebook_runs(course_book.ROOT / lecture)  # executed and kept in build/executed/, once a session
    out = tmp_path_factory.mktemp("book") / "html"
    result = course_book.build(out)
    print(f"book built in {result['seconds']} s ({result['build seconds']} s Jupyter Book)")
    return out, result


@pytest.fixture(scope="module")
def site(built):
    """The built book served over HTTP on loopback, as a static host would serve it."""
    out, _ = built
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            with contextlib.suppress(OSError):
                if http_get(f"{url}/index.html")[0] == 200:
                    break
            time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def figures_in(notebook: str) -> int:
    """How many image outputs the executed notebook holds (what its page must show)."""
    nb = nbformat.read(course_book.ROOT / "build" / "executed" / notebook, as_version=4)
    return sum(
        "image/png" in output.get("data", {})
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )


def test_every_page_is_built_and_the_exercise_shows_no_solution(built):
    out, result = built
    assert set(result["reused"]) == set(LECTURES)
    for page in PAGES:
        assert (out / page).with_suffix(".html").exists(), page
    exercise = (out / course_book.EXERCISE).with_suffix(".html").read_text()
    for secret in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "BEGIN HIDDEN"):
        assert secret not in exercise
    assert not any(out.rglob("solutions*")), "the solution notebook must never be part of the book"


@pytest.mark.parametrize("notebook", PAGES)
def test_each_page_loads_with_its_figures_and_its_own_launch_links(browser, site, notebook):
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        response = page.goto(f"{site}/{Path(notebook).with_suffix('.html').as_posix()}")
        assert response.status == 200
        page.locator("article h1").first.wait_for(timeout=30_000)
        images = page.locator("article .cell_output img")
        if notebook in LECTURES:
            assert images.count() == figures_in(notebook), notebook
        for image in images.all():
            image.scroll_into_view_if_needed()
            assert image.evaluate("img => img.complete && img.naturalWidth > 0"), image.get_attribute("src")
        launches = page.locator("a[href*='mybinder.org'], a[href*='colab.research.google.com']").evaluate_all(
            "links => links.map(link => link.href)"
        )
        assert {"binder", "colab"} == {"binder" if "mybinder" in h else "colab" for h in launches}, launches
        for href in launches:
            assert urllib.parse.unquote(href).endswith(notebook), href
        assert errors == []
        if notebook in (LECTURES[3], LECTURES[6]):  # two pages for the docs: a figure in view
            if images.count():
                images.nth(min(1, images.count() - 1)).scroll_into_view_if_needed()
            page.screenshot(path=SHOTS / f"book_{Path(notebook).stem}.png")
    finally:
        page.close()


def test_no_link_inside_the_book_is_broken(built, site):
    out, _ = built
    checked = 0
    for html in sorted(out.rglob("*.html")):
        if "_static" in html.relative_to(out).parts:  # the theme's templates, not pages
            continue
        text = html.read_text()
        for href in re.findall(r'(?:href|src)="([^"]+)"', text):
            if re.match(r"[a-z]+:|//|#$|mailto:", href) or "/_sources/" in href:
                continue
            path, _, anchor = href.partition("#")
            path = path.partition("?")[0]  # cache-busting digests of the theme's files
            target = (html.parent / urllib.parse.unquote(path)).resolve() if path else html
            assert target.is_file(), f"{html.relative_to(out)} links to missing {href}"
            if anchor and target.suffix == ".html":
                assert f'id="{anchor}"' in target.read_text(), f"{html.relative_to(out)} links to missing #{anchor}"
            checked += 1
    assert checked > 100


def test_search_finds_a_lecture(browser, site):
    page = browser.new_page()
    try:
        page.goto(f"{site}/search.html?q=BatchNorm")
        results = page.locator("#search-results li a")
        results.first.wait_for(timeout=30_000)
        found = results.evaluate_all("links => links.map(link => link.getAttribute('href'))")
        assert any("04_fine_tuning" in href for href in found), found
    finally:
        page.close()
