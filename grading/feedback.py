"""Feedback pages students can open safely: no live code, bounded, and one for notebooks nbgrader gave none."""

from __future__ import annotations

import html
import re

from grading.protocol import ASSIGNMENT

# Feedback pages are plain documents: no script, frame, form or remote resource may run or load.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; "
    "form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
)

MAX_FEEDBACK_BYTES = 10 << 20


ACTIVE_URL = re.compile(
    r"""(\s(?:href|src|action|formaction|xlink:href|poster|background)\s*=\s*)("[^"]*"|'[^']*'|[^\s>]+)""",
    re.IGNORECASE,
)


def _inert_url(match: re.Match) -> str:
    """A link or source attribute, or ``"#"`` for a URL that runs code (javascript:, vbscript:, data:)."""
    url = re.sub(r"[\x00-\x20]", "", html.unescape(match.group(2).strip("\"'"))).lower()
    if url.startswith(("javascript:", "vbscript:")) or (
        url.startswith("data:") and not re.match(r"data:image/(png|jpeg|gif|webp)[;,]", url)
    ):
        return f'{match.group(1)}"#"'
    return match.group(0)


def inert(page: str) -> str:
    """A feedback page with a Content-Security-Policy that blocks every script, frame and remote load.

    Links to ``javascript:``, ``vbscript:`` and ``data:`` URLs (a student's markdown can write
    them) become ``#``, so the page holds no live code even where the policy is not enforced.
    """
    page = ACTIVE_URL.sub(_inert_url, page)
    meta = f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">'
    head = re.search(r"<head[^>]*>", page, re.IGNORECASE)
    return page[: head.end()] + meta + page[head.end() :] if head else meta + page


def problem_page(student_id: str, problem: str) -> str:
    """A feedback page for a notebook nbgrader gave none for: what went wrong, in plain words."""
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Feedback: {html.escape(student_id)}</title></head>"
        f"<body><h1>{ASSIGNMENT}</h1><p>Your notebook could not be graded automatically: "
        f"{html.escape(problem or 'nbgrader made no feedback for it')}. Your instructor has the details.</p>"
        "</body></html>"
    )
