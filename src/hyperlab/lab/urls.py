"""Storage URLs without their secrets, and where a process gets the secret back.

A run folder is something people share, so nothing the lab writes (``run.json``, ``results.csv``,
reports, logs, error messages) holds a database password. A password can hide in a URL in
several forms that SQLAlchemy accepts:

- in the user part: ``postgresql://user:pw@host/db``, percent-encoded (``p%40ss``) or not (a raw
  ``@`` or ``/`` inside it: everything up to the *last* ``@`` of the address is secret);
- in the query string: ``postgresql://host/db?user=u&password=pw``;
- as a libpq keyword in text a driver prints: ``password=pw``.

:func:`mask` hides each of them (``***``) in any text; :func:`without_password` removes them from a URL
(what ``run.json`` records). A resumed run, a report or a worker gets the password back from
the environment: ``HYPERLAB_STORAGE`` holding the full URL (used when it names the same storage
as the recorded one), or the database driver's own mechanisms (PostgreSQL's ``PGPASSWORD`` and
``~/.pgpass``), which see a URL without a password as "ask elsewhere".
"""

from __future__ import annotations

import os
import re
from pathlib import Path

#: The environment variable that may hold a storage URL with its password.
STORAGE_ENV = "HYPERLAB_STORAGE"

MASK = "***"

# scheme://user:secret@  -- the secret runs to the last '@' before white space or a quote.
_USERINFO = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s'\"]*):(?P<secret>[^\s'\"]*)@")
# The same with any number of slashes, for masking: a mistyped ``postgresql:/user:pw@host`` is
# quoted in its error too (not for stripping: a file path may hold ``a:b:c@d``).
_TYPO_USERINFO = re.compile(_USERINFO.pattern.replace("://", ":/*", 1))
# password=secret in a query string or a libpq keyword list (quoted or not).
_KEYWORD = re.compile(
    r"(?P<head>(?:^|[?&;\s(,])(?:password|passwd|pwd)\s*=\s*)(?P<secret>'[^']*'|\"[^\"]*\"|[^&;\s'\",)]*)",
    re.IGNORECASE,
)


def mask(text: str) -> str:
    """``text`` with every password in it replaced by ``***``.

    Works on a URL or on any message that quotes one (a driver's error, a command line).
    """
    text = _TYPO_USERINFO.sub(lambda m: f"{m['head']}:{MASK}@", str(text))
    return _KEYWORD.sub(lambda m: f"{m['head']}{MASK}", text)


def without_password(url: str) -> str:
    """``url`` with its password removed (not masked): what a run records.

    ``postgresql://u:pw@h/db`` becomes ``postgresql://u@h/db``; a ``password`` query parameter
    is dropped with its separator.
    """
    url = _USERINFO.sub(lambda m: f"{m['head']}@", url)
    url = re.sub(r"(?i)([?&])(?:password|passwd|pwd)=[^&]*(&|$)", _keep_separator, url)
    return url


def _keep_separator(m: re.Match[str]) -> str:
    # "?password=x&user=u" -> "?user=u"; "?user=u&password=x" -> "?user=u"
    return m[1] if m[2] else ""


def password(url: str) -> str | None:
    """The password written in the user part of ``url`` (up to its last ``@``), if any."""
    m = _USERINFO.match(url)
    return m["secret"] if m else None


def has_secret(url: str) -> bool:
    """Whether ``url`` carries a password."""
    return without_password(url) != url


# URLs with passwords that this process was given (never written anywhere), by stripped URL.
_GIVEN: dict[str, str] = {}


def remember(url: str) -> None:
    """Keep ``url``'s password in this process's memory for :func:`with_secret`."""
    if has_secret(url):
        _GIVEN[without_password(url)] = url


def with_secret(recorded: str) -> str:
    """The URL to connect with for a recorded (password-free) storage URL.

    In order: the same storage's URL given to this process (:func:`remember`),
    ``$HYPERLAB_STORAGE`` when it names the same storage (equal once its password is stripped),
    else the recorded URL, whose driver may find the password itself (``PGPASSWORD``,
    ``~/.pgpass``).
    """
    key = without_password(recorded)
    given = os.environ.get(STORAGE_ENV, "")
    if key in _GIVEN:
        return _GIVEN[key]
    if given and without_password(given) == key:
        return given
    return recorded


def mask_args(args: list[str]) -> list[str]:
    """A command line with every password masked (recorded in ``run.json``)."""
    return [mask(a) for a in args]


def storage_file(url: str) -> Path | None:
    """The file of a SQLite (``sqlite:///PATH``) or journal (``journal:PATH``) URL, else
    ``None`` (a database server)."""
    if url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
        path, _, query = url[len("sqlite:///") :].partition("?")
        if "uri=true" in query.lower().split("&") and path.startswith("file:"):
            path = path[len("file:") :]  # SQLite's URI form: sqlite:///file:PATH?...&uri=true
        return Path(path)
    if url.startswith("journal:") and len(url) > len("journal:"):
        return Path(url[len("journal:") :])
    return None
