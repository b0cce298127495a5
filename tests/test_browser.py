"""The course in a real browser: JupyterLab, ipywidgets and nbgrader as students and instructors see them.

Drives Debian's Chromium (``/usr/bin/chromium``, or ``$CHROMIUM``) with Playwright for Python
against JupyterLab on loopback. Each test serves a fresh copy of the course's notebooks, so the
repository is never touched, and saves a screenshot of what it checked under
``build/browser/``. Without Chromium or Playwright the tests skip, unless
``COURSE_REQUIRE_BROWSER=1`` (``.ci/run`` sets it) makes that a failure.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from PIL import Image

from conftest import ROOT, SHOTS, running_jupyter
from helpers.tasks import TARGET_CLASSES, make_sunglasses_vs_hat

BIN = Path(sys.executable).parent
START_HERE = "lectures/00_start_here.ipynb"
LECTURE = "lectures/01_cnns_story_so_far.ipynb"
LAST_LECTURE = "lectures/07_beyond_classification.ipynb"
EXERCISE = "exercises/sunglasses_vs_hat/sunglasses_vs_hat.ipynb"
INSTRUCTOR_TOOLS = {"Formgrader", "Create assignment"}
#: The configuration folder of ``make lab`` (students, True) and of ``make lab-instructor`` (False).
CONFIGS = {True: ROOT / "config" / "student", False: ROOT / "config" / "instructor"}
NEWS_PROMPT = "official Jupyter news"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """A throwaway copy of the notebooks to serve: JupyterLab writes checkpoints next to what it opens."""
    root = tmp_path_factory.mktemp("course")
    for folder in ("lectures", "exercises"):
        shutil.copytree(ROOT / folder, root / folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return root


@contextlib.contextmanager
def lab_page(browser, course: Path, notebook: str, *, student: bool, config: Path | None = None):
    """JupyterLab in ``make lab``'s configuration (``student``) or ``make lab-instructor``'s, ``notebook`` open.

    ``config`` replaces the course's configuration folder (an empty one: JupyterLab as installed).
    The page is handed over once the kernel is idle, with nothing dismissed: a first-start
    pop-up is still there for the test to see.
    """
    # fresh workspaces and settings, as on a first start: nothing a previous session left comes back
    state = course.parent / f"lab-state-{'student' if student else 'instructor'}-{config.name if config else ''}"
    shutil.rmtree(state, ignore_errors=True)
    env = {
        "JUPYTERLAB_WORKSPACES_DIR": str(state / "workspaces"),
        "JUPYTERLAB_SETTINGS_DIR": str(state / "settings"),
        "JUPYTER_CONFIG_PATH": str(config or CONFIGS[student]),
    }
    command = [str(BIN / "jupyter"), "lab", f"--ServerApp.root_dir={course}"]
    spawned = []
    with running_jupyter(command, env=env) as (url, token):
        server = next(p for p in psutil.process_iter(["cmdline"]) if any(token in a for a in p.info["cmdline"] or ()))
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        try:
            page.goto(f"{url}/lab/tree/{notebook}?reset&token={token}")
            page.locator(".lm-TabBar-tab.lm-mod-current .lm-TabBar-tabLabel", has_text=Path(notebook).name).wait_for(
                timeout=60_000
            )
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
            # the kernel is up once the notebook's execution indicator says idle
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
            yield page
        finally:
            page.close()
            spawned = server.children(recursive=True)  # kernels start in sessions of their own
    _, alive = psutil.wait_procs(spawned, timeout=20)
    for process in alive:
        process.kill()
    assert not alive, f"JupyterLab left processes running: {[p.pid for p in alive]}"


def asks_about_news(page, *, wait_ms: int = 8_000) -> bool:
    """Whether JupyterLab's first-start pop-up ("get notified about official Jupyter news?") shows up."""
    try:
        page.get_by_text(NEWS_PROMPT).first.wait_for(timeout=wait_ms)
    except Exception:  # Playwright's TimeoutError: it never appeared
        return False
    return True


def menu_bar(page) -> list[str]:
    return [text.strip() for text in page.locator(".lm-MenuBar-itemLabel").all_inner_texts()]


def nbgrader_menu(page) -> list[str]:
    page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
    items = [text for text in page.locator(".lm-Menu-itemLabel").all_inner_texts() if text]
    page.keyboard.press("Escape")
    return items


def sidebar_tabs(page) -> list[str]:
    return page.locator(".jp-SideBar .lm-TabBar-tab").evaluate_all(
        "tabs => tabs.map(tab => tab.getAttribute('title') || tab.textContent)"
    )


def test_a_lecture_widget_renders_and_answers_its_controls(browser, course):
    with lab_page(browser, course, LECTURE, student=True) as page:
        page.locator(".jp-Cell").first.click()
        for _ in range(9):  # run the first nine cells: the convolution explorer, then a figure
            page.keyboard.press("Shift+Enter")
            page.wait_for_timeout(300)
        dropdown = page.locator(".widget-dropdown select")
        dropdown.wait_for(timeout=120_000)
        widget_image = page.locator(".widget-output img").first
        widget_image.wait_for(timeout=60_000)
        outputs = page.locator(".jp-OutputArea").all_inner_texts()
        assert not any("Error displaying widget" in text or "VBox(children" in text for text in outputs)

        before = widget_image.get_attribute("src")
        dropdown.select_option(label="blur")
        page.wait_for_function(
            "before => document.querySelector('.widget-output img')?.getAttribute('src') !== before",
            arg=before,
            timeout=30_000,
        )
        assert page.locator(".widget-output img").first.get_attribute("src").startswith("data:image/png")

        # a plain matplotlib figure (outside any widget): the source task's portraits, a few cells further
        figure = page.locator(".jp-OutputArea-output:not(.widget-output *) > img").first
        figure.wait_for(timeout=120_000)
        assert figure.bounding_box()["width"] > 100
        widget_cell = page.locator(".jp-Cell", has=page.locator(".widget-dropdown"))
        widget_cell.scroll_into_view_if_needed()
        widget_cell.screenshot(path=SHOTS / "lecture_widget.png")
        figure.scroll_into_view_if_needed()
        page.screenshot(path=SHOTS / "lecture_figure.png")


def test_the_last_lecture_opens_and_shows_its_first_result(browser, course):
    with lab_page(browser, course, LAST_LECTURE, student=True) as page:
        page.locator(".jp-Cell").first.click()
        for _ in range(4):  # set-up, two texts, then the old head against a new one
            page.keyboard.press("Shift+Enter")
            page.wait_for_timeout(300)
        figure = page.locator(".jp-OutputArea-output > img").first
        figure.wait_for(timeout=180_000)
        page.get_by_text("[old-head-reused] this run:").first.wait_for(timeout=60_000)
        outputs = "\n".join(page.locator(".jp-OutputArea").all_inner_texts())
        assert "Traceback" not in outputs and "Error" not in outputs, outputs[-2000:]
        assert figure.bounding_box()["width"] > 300
        figure.scroll_into_view_if_needed()
        page.screenshot(path=SHOTS / "lecture_07.png")


def test_make_lab_is_the_students_configuration_and_lab_instructor_the_instructors():
    for target, student in (("lab", True), ("lab-instructor", False)):
        commands = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, check=True).stdout
        launch = next(line for line in commands.splitlines() if "jupyter lab" in line)
        assert f'JUPYTER_CONFIG_PATH="{CONFIGS[student]}"' in launch, launch


def test_students_see_the_exercise_without_instructor_tools_or_pop_ups(browser, course):
    with lab_page(browser, course, EXERCISE, student=True) as page:
        assert not asks_about_news(page)
        assert "Nbgrader" not in menu_bar(page), menu_bar(page)
        assert not [tab for tab in sidebar_tabs(page) if "nbgrader" in (tab or "").lower()], sidebar_tabs(page)
        assert page.locator(".jp-Toolbar").get_by_text("Validate").count() == 0
        page.locator(".jp-Cell").first.wait_for()
        page.screenshot(path=SHOTS / "exercise_student.png")


def test_jupyterlab_as_installed_would_ask_about_news(browser, course, tmp_path):
    # What the course's configurations switch off, seen once: the check above can fail.
    with lab_page(browser, course, LECTURE, student=True, config=tmp_path) as page:
        assert asks_about_news(page, wait_ms=30_000)
        assert "Nbgrader" in menu_bar(page)


def test_instructors_see_their_tools_and_no_pop_up(browser, course):
    with lab_page(browser, course, EXERCISE, student=False) as page:
        assert not asks_about_news(page)
        items = nbgrader_menu(page)
        assert INSTRUCTOR_TOOLS <= set(items), items
        tabs = sidebar_tabs(page)
        assert "Nbgrader Create Assignment" in tabs, tabs
        page.locator(".jp-SideBar .lm-TabBar-tab[title='Nbgrader Create Assignment']").click()
        page.locator(".nbgrader-CellWidget, .nbgrader-CreateAssignmentWidget").first.wait_for(timeout=30_000)
        page.screenshot(path=SHOTS / "exercise_instructor.png")


def test_students_upload_their_own_photos_per_class_and_see_them(browser, course, tmp_path):
    images, labels = make_sunglasses_vs_hat(8, seed=3)
    files = {name: [] for name in TARGET_CLASSES}
    for index, (image, label) in enumerate(zip(images, labels, strict=True)):
        path = tmp_path / f"IMG_{index:04d}.jpg"
        Image.fromarray(image).save(path)
        files[TARGET_CLASSES[label]].append(path)
    (tmp_path / "broken.jpg").write_bytes(b"not a photo at all")
    folder = course / "lectures" / "my_photos"
    with lab_page(browser, course, START_HERE, student=True) as page:
        uploader = page.locator(".jp-Cell", has_text='PhotoUploader("my_photos"')
        button = page.locator(".widget-upload")
        for attempt in range(3):
            uploader.click()
            page.keyboard.press("Shift+Enter")
            try:
                button.wait_for(timeout=60_000)
                break
            except Exception:  # ipykernel 7 can leave a request unread (ipython/ipykernel#1554); the next wakes it
                if attempt == 2:
                    raise
        for name in TARGET_CLASSES:
            page.locator(".widget-toggle-button", has_text=name).click()
            with page.expect_file_chooser() as chooser:
                button.click()
            chooser.value.set_files([*files[name], tmp_path / "broken.jpg"])
            page.get_by_text(f"{len(files[name])} of {len(files[name]) + 1} photos saved in {name}/").wait_for(
                timeout=60_000
            )
            assert page.get_by_text("broken.jpg: refused, not an image").count() == 1
        page.locator(".widget-image").nth(len(images) - 1).wait_for(timeout=30_000)
        assert page.locator(".widget-image").count() == len(images)
        for name in TARGET_CLASSES:
            assert page.get_by_text(f"{name}: {len(files[name])} photo").count() == 1
        uploader.scroll_into_view_if_needed()
        uploader.screenshot(path=SHOTS / "upload_widget.png")
    assert {name: len(list((folder / name).glob("*.jpg"))) for name in TARGET_CLASSES} == {
        name: len(paths) for name, paths in files.items()
    }
