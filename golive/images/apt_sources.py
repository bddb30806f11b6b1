"""The Debian mirror this machine's apt already uses, for debootstrap: from /etc/apt/sources.list
and sources.list.d/ (one-line `*.list` and deb822 `*.sources` files), so a machine behind its own
mirror builds from it without being told twice."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

APT = Path("/etc/apt")


@dataclass(frozen=True)
class Source:
    types: tuple[str, ...]
    uris: tuple[str, ...]
    suites: tuple[str, ...]


def parse_one_line(text: str) -> list[Source]:
    """`deb [option=value ...] URI SUITE [COMPONENT...]`, comments after '#'."""
    sources = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        kind, _, rest = line.partition(" ")
        rest = rest.strip()
        if rest.startswith("["):
            rest = rest.partition("]")[2].strip()
        words = rest.split()
        if len(words) >= 2:
            sources.append(Source((kind,), (words[0],), (words[1],)))
    return sources


def parse_deb822(text: str) -> list[Source]:
    """Stanzas of `Field: value` separated by blank lines; continuation lines start with a space;
    `Enabled: no` turns a stanza off."""
    sources = []
    for stanza in _stanzas(text):
        if stanza.get("enabled", "yes").lower() == "no":
            continue
        fields = (tuple(stanza.get(name, "").split()) for name in ("types", "uris", "suites"))
        types, uris, suites = fields
        if types and uris and suites:
            sources.append(Source(types, uris, suites))
    return sources


def _stanzas(text: str) -> list[dict[str, str]]:
    stanzas: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last = ""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        if not line.strip():
            if current:
                stanzas.append(current)
            current, last = {}, ""
        elif line[0].isspace() and last:
            current[last] += " " + line.strip()
        elif ":" in line:
            name, _, value = line.partition(":")
            last = name.strip().lower()
            current[last] = value.strip()
    if current:
        stanzas.append(current)
    return stanzas


def configured_sources(apt: Path = APT) -> list[Source]:
    sources = []
    if (apt / "sources.list").is_file():
        sources += parse_one_line((apt / "sources.list").read_text(errors="replace"))
    for path in sorted((apt / "sources.list.d").glob("*.list")):
        sources += parse_one_line(path.read_text(errors="replace"))
    for path in sorted((apt / "sources.list.d").glob("*.sources")):
        sources += parse_deb822(path.read_text(errors="replace"))
    return sources


def mirror_for(suite: str, apt: Path = APT) -> str | None:
    """The first binary (`deb`) source that serves `suite` itself (not -updates, -security)."""
    for source in configured_sources(apt):
        if "deb" in source.types and suite in source.suites:
            return source.uris[0].rstrip("/")
    return None
