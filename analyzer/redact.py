"""The one rule that hides credentials in URLs, wherever a URL is shown, logged or stored.

pip's ``redact_auth_from_url`` keeps the user name and hides the password (a token given as the user name alone is
hidden whole). Here the rule works on any text, so a renderer, an error message or a remembered answer is masked
by one call whatever URLs it quotes: ``https://user:secret@host/x`` -> ``https://user:***@host/x``. A secret
written as a variable (``${TOKEN}``) names no secret and is kept, so a message can say which one was used.
"""

from __future__ import annotations

import re

__all__ = ["MASK", "redact"]

MASK = "***"

# ://USERINFO@ : the user information runs to the last "@" before the host's end ("/", "?", "#", a space or a
# quote); greedy, so "user:p@ss@host" hides "p@ss" whole, as urlsplit reads it. Anchored on "://" (not on the
# scheme before it), so a search costs one pass over any text, however hostile.
_WITH_SCHEME = re.compile(r"(?<=://)(?P<userinfo>[^\s/?#\"'<>`]*)@")
# USER:PASSWORD@host/... without a scheme (an index URL typed without "https://"): the colon says a password
# follows; the host must follow the "@" (a PEP 508 "name @ URL" has spaces around it and no colon before it)
_WITHOUT_SCHEME = re.compile(
    r"(?<![\w.+\-/:@%])(?P<userinfo>[\w.~%!$&()*+,;=\-]+:[^\s/?#\"'<>`]+)@(?=[\w\[][\w.\-\[\]:]*(?:[/?#\s\"']|$))"
)
_VARIABLE = re.compile(r"^\$\{[A-Z0-9_]+\}$")


def redact(text: str) -> str:
    """``text`` with the secret of every URL's user information replaced by ``***`` (idempotent)."""
    if "@" not in text:
        return text
    text = _WITH_SCHEME.sub(lambda m: _masked(m.group("userinfo")) + "@", text)
    return _WITHOUT_SCHEME.sub(lambda m: _masked(m.group("userinfo")) + "@", text)


def _masked(userinfo: str) -> str:
    """``user:password`` -> ``user:***``; a user name alone (a token) or with an empty password -> ``***``."""
    user, sep, password = userinfo.partition(":")
    if not userinfo:
        return userinfo
    if sep and password:
        return userinfo if _VARIABLE.match(password) or password == MASK else f"{user}:{MASK}"
    return userinfo if _VARIABLE.match(user) or user == MASK else MASK
