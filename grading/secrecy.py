"""The grader's secrets: the seed, and whether a page gives it or the hidden tests away, in any encoding."""

from __future__ import annotations

import base64
import html
import os
import re
import secrets
import zlib

from grading.protocol import SEED_FILE, SEED_VARIABLE


def grading_seed() -> int:
    """The instructor's secret seed: ``$GRADING_SEED``, else ``.grading_seed`` (made on first use)."""
    if os.environ.get(SEED_VARIABLE):
        return int(os.environ[SEED_VARIABLE])
    if not SEED_FILE.exists():
        descriptor = os.open(SEED_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(f"{secrets.randbelow(10**9) + 10**9}\n")
        print(f"Made a secret grading seed in {SEED_FILE} (keep it; never commit or share it).")
    return int(SEED_FILE.read_text().strip())


class Secret:
    """The grading seed on its way to a worker: its repr, str and Dask token never show the value."""

    __slots__ = ("value",)

    def __init__(self, value: int) -> None:
        self.value = int(value)

    def __repr__(self) -> str:
        return "Secret(<hidden>)"

    __str__ = __repr__

    def __dask_tokenize__(self) -> str:
        return "grading-seed"

    def __reduce__(self):
        return Secret, (self.value,)


def secret_forms(seed: int, hidden: dict[str, str], public: str = "") -> dict[str, str]:
    """The seed and the hidden tests in the forms a feedback page is checked for: ``form -> what it is``.

    A line of a hidden test that is also in ``public`` (the release, where an assert can repeat a
    visible one) is no secret.
    """
    forms = {}
    kept = [(str(seed), "the seed"), *((code, f"the hidden tests of {cell}") for cell, code in hidden.items())]
    for text, what in kept:
        raw = text.encode()
        forms[text] = what
        forms[text[::-1]] = f"{what}, reversed"
        for shift in range(3):
            # base64 of the text wherever it starts in an encoded stream: the groups it alone decides
            encoded = base64.b64encode(b"\0" * shift + raw).decode()[4 if shift else 0 : -4]
            for form in (encoded, encoded.replace("+", "-").replace("/", "_")):
                if len(form) >= 8:
                    forms[form] = f"{what}, base64"
        for line in text.splitlines():
            if len(line.strip()) >= 24 and line.strip() not in public:
                forms[line.strip()] = f"a line of {what}"
    return forms


def leaks(page: str, forms: dict[str, str]) -> list[str]:
    """What of the grader's secrets ``page`` holds: in its text, with HTML entities decoded, or encoded.

    Runs of hex, base64 and base85 in the page are decoded, and what decodes is also inflated
    (zlib, gzip or raw deflate): a submission that found a secret cannot print it hex- or
    base85-encoded, compressed or not.
    """
    texts = [page, html.unescape(page), *_decoded(page)]
    return sorted({what for form, what in forms.items() if any(form in text for text in texts)})


ENCODED_RUNS = (  # (pattern, decoder, characters a group of it encodes: where a run may start)
    (re.compile(r"[0-9a-fA-F]{16,}"), bytes.fromhex, 2),
    (re.compile(r"[A-Za-z0-9+/]{16,}"), base64.b64decode, 4),
    (re.compile(r"[A-Za-z0-9_-]{16,}"), base64.urlsafe_b64decode, 4),
    (re.compile(r"[0-9A-Za-z!#$%&()*+;<=>?@^_`{|}~-]{15,}"), base64.b85decode, 5),
)

MAX_INFLATED_BYTES = 16 << 20


def _decoded(text: str):
    """The texts that runs of hex, base64 or base85 in ``text`` decode to, and their inflated forms.

    Runs are read in the page's text between tags (base85's alphabet holds ``<`` and ``>``), from
    each place a group could start (a run may begin with a character that only looks encoded).
    """
    nodes = [html.unescape(node) for node in re.findall(r">([^<]+)<", text)] or [text]
    for pattern, decode, group in ENCODED_RUNS:
        for run in (run for node in nodes for run in pattern.findall(node)):
            for start in range(group):
                part = run[start:]
                part = part[: len(part) // group * group]
                try:
                    raw = decode(part)
                except ValueError:
                    continue
                yield raw.decode("latin-1")
                for wbits in (zlib.MAX_WBITS | 32, -zlib.MAX_WBITS):  # zlib or gzip header; raw deflate
                    try:
                        yield zlib.decompressobj(wbits).decompress(raw, MAX_INFLATED_BYTES).decode("latin-1")
                    except zlib.error:
                        pass
