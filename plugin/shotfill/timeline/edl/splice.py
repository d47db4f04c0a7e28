"""Write an EDL back by splicing the editor's own text.

OTIO's CMX 3600 writer upper-cases marker text, drops comments it does not
know, renumbers events and ignores the start timecode.  So an EDL comes back
as the text it went in, with only the filled events touched:

* a filled *event* (a ``BL`` or slug event) keeps its number, channel and
  record timecodes; its reel and source timecodes change to the generated
  file's, and ``* FROM CLIP NAME:`` / ``* FROM CLIP:`` / ``* SOURCE FILE:``
  lines name the file (``* FROM CLIP:`` is the comment OpenTimelineIO's CMX
  reader links media from);
* a filled *gap* becomes a new event, numbered after the highest number in the
  list, inserted where it plays;
* every other line (title, FCM, comments, other events and their numbers) is
  byte-identical, but for the path in the editor's own ``* FROM CLIP:``,
  ``* FROM FILE:`` and ``* SOURCE FILE:`` comments when it is relative and the
  output goes to another folder (see :mod:`shotfill.timeline.media_refs`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Optional

from shotfill.errors import TimelineError
from shotfill.model import Placement
from shotfill.timeline.edl.audio import audio_event
from shotfill.timeline.media_refs import Rebase
from shotfill.timeline.names import line_safe
from shotfill.rates import frames_to_timecode, timecode_to_frames

_TC = r"\d{1,2}[:;.]\d{2}[:;.]\d{2}[:;.]\d{2}"
EVENT = re.compile(
    rf"^\s*(?P<num>\d+)\s+(?P<reel>\S+)\s+(?P<chan>\S+)\s+(?P<trans>\S+)(?:\s+(?P<dur>\d+))?"
    rf"\s+(?P<si>{_TC})\s+(?P<so>{_TC})\s+(?P<ri>{_TC})\s+(?P<ro>{_TC})\s*$"
)
_FILE_COMMENT = re.compile(r"^\*\s*(FROM CLIP NAME|FROM CLIP|FROM FILE|SOURCE FILE)\s*:", re.I)
#: the editor's comments that hold a media path (not ``FROM CLIP NAME``, a name)
_PATH_COMMENT = re.compile(r"^(?P<head>\*\s*(?:FROM CLIP(?!\s*NAME)|FROM FILE|SOURCE FILE)\s*:?\s*)(?P<path>\S.*?)\s*$",
                           re.I)
#: a take of a filled event, listed so that ``shotfill pick`` can swap it in (CMX 3600 has no takes)
TAKE_COMMENT = re.compile(r"^\* SHOTFILL (?P<id>\S+) TAKE (?P<take>\d+)(?P<active> \(ACTIVE\))?: (?P<path>.*)$")


def take_comment(placeholder_id: str, take: int, path: Path, active: bool) -> str:
    return (f"* SHOTFILL {placeholder_id} TAKE {take}{' (ACTIVE)' if active else ''}: "
            f"{line_safe(str(Path(path).resolve()))}")


@dataclass
class _Event:
    line_index: int
    end_index: int          # exclusive: first line of the next event
    number: str
    chan: str
    trans: str
    rec_in: int
    rec_out: int


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _events(lines: list[str], rate: Fraction) -> list[_Event]:
    events: list[_Event] = []
    for i, line in enumerate(lines):
        m = EVENT.match(line.rstrip("\r\n"))
        if not m:
            continue
        if events:
            events[-1].end_index = i
        events.append(_Event(
            line_index=i, end_index=len(lines), number=m["num"], chan=m["chan"], trans=m["trans"],
            rec_in=timecode_to_frames(m["ri"], rate), rec_out=timecode_to_frames(m["ro"], rate),
        ))
    return events


def _reel_for(n: int) -> str:
    return f"GEN{n:05d}"


def _replace_fields(line: str, new: dict[str, str]) -> str:
    """Swap named fields of an event line, keeping the spacing of everything else."""
    body = line.rstrip("\r\n")
    ending = line[len(body):]
    m = EVENT.match(body)
    assert m is not None
    out, pos = [], 0
    for name in ("reel", "si", "so"):
        if name not in new:
            continue
        start, end = m.span(name)
        out.append(body[pos:start])
        value = new[name]
        # Eat padding after a longer value so the columns after it stay put.
        gap = len(body[end:]) - len(body[end:].lstrip(" "))
        spare = max(0, len(value) - (end - start))
        out.append(value)
        pos = end + min(spare, max(0, gap - 1))
    out.append(body[pos:])
    return "".join(out) + ending


def _rebased(line: str, rebase: Optional[Rebase]) -> str:
    """The line with its media path rebased, if it is a path comment with a relative path."""
    if rebase is None:
        return line
    body = line.rstrip("\r\n")
    m = _PATH_COMMENT.match(body)
    new = rebase.path(m["path"]) if m else None
    if m is None or new is None:
        return line
    return body[:m.start("path")] + line_safe(new) + body[m.end("path"):] + line[len(body):]


def splice_edl(text: str, placements: list[Placement], *, rate: Fraction, drop_frame: bool,
               source_name: str, rebase: Optional[Rebase] = None) -> str:
    """The EDL text with every placement spliced in; raises TimelineError if one cannot be."""
    nl = _newline(text)
    lines = text.splitlines(keepends=True)
    added_nl = bool(lines) and not lines[-1].endswith(("\n", "\r"))
    if added_nl:
        lines[-1] += nl
    events = _events(lines, rate)
    video = [e for e in events if "V" in e.chan.upper() or e.chan.upper().startswith("B")]
    width = max([len(e.number) for e in events] + [3])
    next_number = max([int(e.number) for e in events] + [0]) + 1

    def tc(frame: int) -> str:
        return frames_to_timecode(frame, rate, drop_frame)

    def sound(pl: Placement, n: int) -> list[str]:
        """The audio event of a file with sound (timeline.edl.audio), numbered next."""
        nonlocal next_number
        if not pl.audio:
            return []
        (src0, length), rin = pl.source, pl.placeholder.record_frame
        next_number += 1
        return audio_event(pl, number=str(next_number - 1).zfill(width), reel=_reel_for(n),
                           src=(tc(src0), tc(src0 + length)), rec=(tc(rin), tc(rin + length)), nl=nl)

    replace: dict[int, list[str]] = {}   # line index -> new lines in its place
    insert: dict[int, list[str]] = {}    # line index -> new lines before it
    for n, pl in enumerate(sorted(placements, key=lambda p: p.placeholder.record_frame), start=1):
        ph = pl.placeholder
        if ph.track_index != 0:
            raise TimelineError(f"{source_name}: {ph.id} is on {ph.track}; an EDL has one video track",
                                hint="write the output as .otio or .xml instead")
        rin, rout = ph.record_frame, ph.record_frame + ph.duration
        # The source side is what the clip shows of its file: handles or a neighbour's own media put it past
        # the file's first frame; the record side is the hole, always.
        sin = pl.source[0]
        sout = sin + ph.duration
        # A line break in a name or folder would start a line of its own: an event, to the editor.
        path = line_safe(str(Path(pl.media_path).resolve()))
        file_lines = [f"* FROM CLIP NAME: {line_safe(Path(pl.media_path).name)}{nl}",
                      f"* FROM CLIP: {path}{nl}", f"* SOURCE FILE: {path}{nl}"]
        file_lines += [take_comment(ph.id, t.number, t.media_path, t.number == pl.active) + nl for t in pl.takes]
        if ph.kind == "clip":
            ev = next((e for e in video if e.rec_in == rin and e.rec_out == rout), None)
            if ev is None:
                ev = next((e for e in video if e.rec_in <= rin and rout <= e.rec_out and e.trans.upper() == "C"), None)
            if ev is None:
                raise TimelineError(f"{source_name}: no event at {tc(rin)} to replace for {ph.id}",
                                    hint="write the output as .otio instead")
            new_line = _replace_fields(lines[ev.line_index], {"reel": _reel_for(n), "si": tc(sin), "so": tc(sout)})
            kept = [ln for ln in lines[ev.line_index + 1: ev.end_index] if not _FILE_COMMENT.match(ln.strip())
                    and not TAKE_COMMENT.match(ln.rstrip("\r\n"))]
            # The file comments go right after the event line, before the event's own notes.
            replace[ev.line_index] = [new_line] + file_lines
            for i in range(ev.line_index + 1, ev.end_index):
                replace[i] = []
            replace[ev.line_index] += kept + sound(pl, n)
        else:
            num = str(next_number).zfill(width)
            next_number += 1
            block = [f"{num}  {_reel_for(n):<8} V     C        {tc(sin)} {tc(sout)} {tc(rin)} {tc(rout)}{nl}",
                     *file_lines, *sound(pl, n)]
            after = [e for e in video if e.rec_in >= rout]
            at = min((e.line_index for e in after), default=len(lines))
            insert.setdefault(at, []).extend(block)
    out: list[str] = []
    for i, line in enumerate(lines):
        out.extend(insert.get(i, []))
        out.extend(_rebased(ln, rebase) for ln in replace.get(i, [line]))
    out.extend(insert.get(len(lines), []))
    result = "".join(out)
    if added_nl and not insert.get(len(lines)) and result.endswith(nl):
        result = result[: -len(nl)]
    return result
