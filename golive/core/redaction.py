"""The one redactor: passwords out of URLs (`scheme://user:password@host`) wherever they appear
in a text, before it reaches a console, a log line or an artifact. Artifacts are shared,
passwords are not."""

from __future__ import annotations

import re
from typing import Any

# user:password@ after a scheme; the user part stops at the first ':' so a password may hold
# anything but '@', '/' and whitespace.
_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://[^/:@\s]*):[^/@\s]*@")


def redact(text: str) -> str:
    return _CREDENTIALS.sub(r"\g<scheme>:***@", text)


def redact_all(value: Any) -> Any:
    """`redact` applied to every string inside a JSON-like value."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redact_all(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_all(item) for item in value]
    return value
