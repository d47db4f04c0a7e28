"""Reading a GEN: note: the tag, the prompt and the ``key=value`` options.

A note looks like ``GEN: aerial drone over a foggy coast | seed=42 fit=fit``.
The tag is case-insensitive and may stand in the marker's name or in its
comment; the prompt is the rest of the name and the comment joined.  Options
follow the first `` | `` whose next word is ``key=value``; values with spaces
are quoted (``negative="blurry, text"``).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from pydantic import ValidationError

from shotfill.model import MAX_HANDLES, MAX_TAKES, Fit, ShotOptions
from shotfill.providers import provider_names

TAG = re.compile(r"^\s*gen\s*:\s*", re.IGNORECASE)
_OPTION_START = re.compile(r"\s\|\s+(?=[A-Za-z_][\w-]*=)")
KNOWN_OPTIONS = tuple(ShotOptions.model_fields)


@dataclass(frozen=True)
class Note:
    """A parsed GEN: note; ``problems`` lists what could not be used, for ``scan``."""

    prompt: str
    options: ShotOptions
    problems: list[str] = field(default_factory=list)


def has_tag(text: str | None) -> bool:
    return bool(text) and bool(TAG.match(text or ""))


def is_gen_marker(name: str, comment: str) -> bool:
    return has_tag(name) or has_tag(comment)


def note_text(name: str, comment: str) -> str:
    """The text after the tag: the tagged name plus the comment, or the tagged comment alone."""
    name, comment = (name or "").strip(), (comment or "").strip()
    if has_tag(name):
        rest = TAG.sub("", name, count=1).strip()
        extra = TAG.sub("", comment, count=1).strip() if comment else ""
        return " ".join(p for p in (rest, extra) if p)
    return TAG.sub("", comment, count=1).strip()


def parse_note(text: str) -> Note:
    """Split ``prompt | key=value ...`` into a prompt and validated options."""
    problems: list[str] = []
    m = _OPTION_START.search(" " + text)
    if m:
        prompt = (" " + text)[: m.start()].strip()
        option_text = (" " + text)[m.end():]
    else:
        prompt, option_text = text.strip(), ""
    raw: dict[str, str] = {}
    if option_text:
        try:
            tokens = shlex.split(option_text)
        except ValueError as exc:
            problems.append(f"options '{option_text}' cannot be read ({exc}); check the quotes")
            tokens = []
        for tok in tokens:
            if tok == "|":
                continue
            if "=" not in tok:
                problems.append(f"option '{tok}' is not key=value")
                continue
            key, value = tok.split("=", 1)
            key = key.strip().lower()
            if key not in KNOWN_OPTIONS:
                problems.append(
                    f"unknown option '{key}' (known: {', '.join(KNOWN_OPTIONS)})"
                )
                continue
            raw[key] = value
    good: dict[str, object] = {}
    if "provider" in raw:
        if raw["provider"].lower() not in provider_names():
            problems.append(f"unknown provider '{raw.pop('provider')}' (known: {', '.join(provider_names())})")
    if "ref" in raw and not all(p.strip() for p in raw["ref"].split(",")):
        problems.append(f"option ref={raw.pop('ref')!r} is not valid: it must be image paths separated by commas")
    for key, value in raw.items():
        if key in ("match", "source", "audio"):
            value = value.lower()
        try:
            ShotOptions.model_validate({key: value})
            good[key] = value
        except ValidationError:
            allowed = (
                "one of " + ", ".join(f.value for f in Fit) if key == "fit"
                else "image paths separated by commas" if key == "ref"
                else "a whole number" if key == "seed" else "on or off" if key in ("match", "audio")
                else "handles (the neighbours' own media)" if key == "source"
                else f"a whole number from 1 to {MAX_TAKES}" if key == "takes"
                else f"a whole number of frames from 0 to {MAX_HANDLES}" if key == "handles" else "a non-empty value"
            )
            problems.append(f"option {key}={value!r} is not valid: it must be {allowed}")
    if not prompt:
        problems.append("the GEN: note has no prompt; write what the shot should be after 'GEN:'")
    return Note(prompt=prompt, options=ShotOptions.model_validate(good), problems=problems)
