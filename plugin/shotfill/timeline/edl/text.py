"""CMX 3600 EDL text, read before OTIO's ``cmx_3600`` adapter sees it.

The stock reader fails on, or silently misreads, things editors' EDLs do all
the time.  :func:`prepare_edl` scans the text once, line by line, the way the
stock reader groups it (an event line, an optional transition line with the
same event number, then comment lines), and hands back:

* ``reader_text``: the text to give ``cmx_3600.read_from_string``, with every
  event line rebuilt from its fields (timecodes normalised, drop frame written
  with ``;`` so the reader decodes it as such, a frame equal to the rate carried
  into the next second, a source out that disagrees with the record length
  moved to match it, an event that overlaps an earlier one moved to an extra
  track, a transition that opens a track turned into a cut), ``* LOC:`` lines
  taken out (they are put back as markers by :mod:`shotfill.timeline.edl.read`, in
  the right time space).  The reader's clips are matched to their events by
  order, track by track; ``tagged_reader_text`` is the same text with a
  ``* SHOTFILL-EVENT n`` tag after each event, for when that order cannot be
  trusted (the tags double the reader's time: each is a comment it stores);
* ``events``: what each event says (line number, record and source frames,
  its ``LOC`` lines);
* ``warnings``: what was compensated, one line per kind, for the editor.

The original text is never changed; the splice writers work on it.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from fractions import Fraction

from shotfill.rates import DROP_FRAME_RATES

#: The tag put after every event of ``reader_text``; the stock reader keeps it
#: (with the ``*`` stripped) in ``clip.metadata["cmx_3600"]["comments"]``.
EVENT_TAG = "SHOTFILL-EVENT"

#: Longest line accepted: a longer one is not an EDL, and the stock reader's
#: regular expressions would take very long over it.
MAX_LINE = 20_000

# The stock reader's channel shorthands (otio_cmx3600_adapter.cmx_3600.channel_map).
CHANNEL_MAP = {
    "A": ["A1"],
    "AA": ["A1", "A2"],
    "B": ["V", "A1"],
    "A2/V": ["V", "A2"],
    "AA/V": ["V", "A1", "A2"],
}

_TC_RE = re.compile(r"(\d{1,2})([:;.,])(\d{1,2})([:;.,])(\d{1,2})([:;.,])(\d{1,3})")
_TC_SEARCH = re.compile(r"(?<![\d:;.,])\d{1,2}[:;.,]\d{1,2}[:;.,]\d{1,2}[:;.,]\d{1,3}(?![\d:;.,])")
_LOC_RE = re.compile(r"\*?\s*LOC:?\s*(?P<body>.*)$")
_LOC_BODY_RE = re.compile(
    r"(?P<tc>\d{1,2}[:;.,]\d{1,2}[:;.,]\d{1,2}[:;.,]\d{1,3})(?:\s+(?P<rest>.*))?$"
)
_M2_RE = re.compile(r"\*?\s*M2:?\s*(?P<body>.*)$")
_M2_BODY_RE = re.compile(r"(?P<name>.*?)\s*(?P<speed>[-+]?\d*\.?\d+)\s+(?P<tc>\S+)\s*$")
_FCM_RE = re.compile(r"FCM\s*:?\s*(?P<mode>.*)$", re.IGNORECASE)
_TRANSITION_RE = re.compile(r"^(D|W\d{3})$")
_FREEZE_RE = re.compile(r"\*?\s*\* FREEZE FRAME")

#: Colour words Avid, Premiere and Resolve write in ``LOC`` lines, mapped to
#: OTIO's MarkerColor names.
LOC_COLOURS = {
    "RED": "RED", "PINK": "PINK", "ORANGE": "ORANGE", "YELLOW": "YELLOW",
    "GREEN": "GREEN", "CYAN": "CYAN", "BLUE": "BLUE", "PURPLE": "PURPLE",
    "MAGENTA": "MAGENTA", "BLACK": "BLACK", "WHITE": "WHITE",
    # Resolve's extra colours, nearest OTIO colour
    "FUCHSIA": "MAGENTA", "ROSE": "PINK", "LAVENDER": "PURPLE", "SKY": "CYAN",
    "MINT": "GREEN", "LEMON": "YELLOW", "SAND": "ORANGE", "COCOA": "ORANGE",
    "CREAM": "WHITE",
}


class EdlTextError(ValueError):
    """The text cannot be read as an EDL; ``line`` is 1-based (0 = whole file)."""

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(message)
        self.line = line


@dataclass
class Locator:
    line: int                 # 1-based line of the LOC comment
    text: str                 # the LOC line as written (stripped)
    timecode: str             # as written
    frame: int                # absolute frame of the timecode
    drop_frame: bool
    color_word: str | None    # the colour word as written, if there was one
    color: str                # an OTIO MarkerColor name
    name: str                 # the rest of the line, as written


@dataclass
class Event:
    index: int                # 0-based order in the file, the tag number
    number: str               # event number as written ("001")
    line: int                 # 1-based line of the event line
    transition_line: int | None
    reel: str
    channel: str              # as written
    reader_channel: str       # as handed to the reader (an overlap moves it)
    edit: str                 # C, D, W001 ...
    record_in: int            # absolute record frames
    record_out: int
    source_in: int            # absolute source frames
    source_out: int           # after any fix (= source_in + record length unless retimed)
    source_drop_frame: bool
    record_drop_frame: bool
    retimed: bool             # M2 or freeze frame: the reader fits the source itself
    locators: list[Locator] = field(default_factory=list)
    #: the comment lines handed to the reader after this event, as written there
    reader_comments: list[str] = field(default_factory=list)
    #: a kept transition: (the b-side's event number, its type "D"/"W001", its length) as written
    transition: tuple[str, str, str] | None = None
    #: the a-side line handed to the reader is a plain cut line (8 fields, edit "C")
    a_side_cut: bool = True


class _Tag(str):
    """An event tag line: in ``tagged_reader_text`` only."""


class _EventLines:
    """An event's line(s) for the reader, written only if the reader is run (the builder needs none)."""

    __slots__ = ("sc", "ev", "ev_fields", "tr_fields")

    def __init__(self, sc: _Scanner, ev: Event, ev_fields: list[str], tr_fields: list[str] | None) -> None:
        self.sc, self.ev, self.ev_fields, self.tr_fields = sc, ev, ev_fields, tr_fields

    def lines(self) -> list[str]:
        return _event_lines(self.sc, self.ev, self.ev_fields, self.tr_fields)


@dataclass
class PreparedEdl:
    #: the text for the reader, as lines; event lines still to be written (see :attr:`reader_text`)
    reader_parts: list[str | _EventLines]
    events: list[Event]
    title: str | None
    #: True/False from the header FCM line (at a drop-frame rate), else None
    header_drop_frame: bool | None
    #: any record timecode written with ``;`` (at a drop-frame rate)
    record_semicolons: bool
    #: the overlap could not be put on an extra track: read with ignore_timecode_mismatch
    needs_ignore_mismatch: bool
    warnings: list[str]
    #: the lines of ``reader_text`` before its first event (TITLE and FCM lines)
    reader_header: list[str] = field(default_factory=list)

    def _lines(self, tagged: bool) -> list[str]:
        out: list[str] = []
        for part in self.reader_parts:
            if type(part) is _EventLines:
                out.extend(part.lines())
            elif tagged or type(part) is not _Tag:
                out.append(part)  # type: ignore[arg-type]
        return out

    @property
    def reader_text(self) -> str:
        """The text for the stock reader (see the module doc)."""
        return "\n".join(self._lines(False)) + "\n"

    @property
    def tagged_reader_text(self) -> str:
        """:attr:`reader_text` with a ``* SHOTFILL-EVENT n`` tag after each event."""
        return "\n".join(self._lines(True)) + "\n"


# --------------------------------------------------------------------------- text


def decode_edl_bytes(data: bytes) -> tuple[str, str, str | None]:
    """Decode an EDL's bytes: ``(text, encoding, warning or None)``.

    UTF-8 (with or without BOM) first, UTF-16 when it has a BOM, then
    Windows-1252 (what Avid and Premiere on Windows write), then Latin-1, which
    decodes anything.  Line endings are kept as they are.
    """
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8):].decode("utf-8"), "utf-8-sig", None
        except UnicodeDecodeError:
            pass
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "utf-16", None
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8"), "utf-8", None
    except UnicodeDecodeError as exc:
        bad = exc.start
    for enc, label in (("cp1252", "Windows-1252"), ("latin-1", "Latin-1")):
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        line = data.count(b"\n", 0, bad) + 1
        return text, enc, (
            f"the text is not UTF-8 (first non-UTF-8 byte on line {line}); "
            f"it was read as {label}"
        )
    raise AssertionError("latin-1 decodes every byte")  # pragma: no cover


# --------------------------------------------------------------------------- timecode


def nominal_fps(rate: Fraction) -> int:
    """Frames per timecode second: 24 at 23.976, 30 at 29.97."""
    return int(round(rate))


def tc_to_frames(h: int, m: int, s: int, f: int, nominal: int, drop: bool) -> int:
    frames = ((h * 60 + m) * 60 + s) * nominal + f
    if drop:
        dropped = nominal // 15          # 2 at 30 fps, 4 at 60 fps
        minutes = h * 60 + m
        frames -= dropped * (minutes - minutes // 10)
    return frames


def frames_to_tc(frames: int, nominal: int, drop: bool) -> str:
    """``HH:MM:SS:FF`` (``;`` before the frames in drop frame) of an absolute frame."""
    if frames < 0:
        raise ValueError(f"negative frame {frames}")
    if drop:
        dropped = nominal // 15
        per_10min = nominal * 600 - dropped * 9
        per_min = nominal * 60 - dropped
        tens, rem = divmod(frames, per_10min)
        frames += dropped * 9 * tens
        if rem > dropped:
            frames += dropped * ((rem - dropped) // per_min)
    f = frames % nominal
    s = frames // nominal % 60
    m = frames // (nominal * 60) % 60
    h = frames // (nominal * 3600)
    return f"{h:02d}:{m:02d}:{s:02d}{';' if drop else ':'}{f:02d}"


@dataclass(slots=True)
class _Tc:
    frames: int
    drop: bool
    carried: bool = False      # frame == nominal, carried into the next second
    bumped: bool = False       # a drop-frame label that does not exist, moved on
    semicolon: bool = False    # written with a drop-frame separator


class _Scanner:
    """One pass over the lines; see :func:`prepare_edl`."""

    def __init__(self, text: str, rate: Fraction) -> None:
        self.lines = text.splitlines()
        self.rate = rate
        self.nominal = nominal_fps(rate)
        self.df_rate = rate in DROP_FRAME_RATES
        self.counts: dict[str, list[str]] = {}

    def note(self, kind: str, example: str) -> None:
        self.counts.setdefault(kind, []).append(example)

    # -- timecodes ----------------------------------------------------------
    def parse_tc(self, token: str, lineno: int, drop_default: bool) -> _Tc:
        """A timecode or a plain frame count, as the reader accepts them."""
        if token.isdigit():
            return _Tc(int(token), drop_default)
        m = _TC_RE.fullmatch(token)
        if not m:
            raise EdlTextError(f"'{token}' is not a timecode", lineno)
        g = m.groups()
        h, m_, s, f = int(g[0]), int(g[2]), int(g[4]), int(g[6])
        semicolon = g[5] in ";.,"
        if not semicolon and m_ <= 59 and s <= 59 and f < self.nominal and not (drop_default and self.df_rate):
            # nearly every timecode: non-drop, nothing to carry or warn about (20,000 in 5,000 events)
            return _Tc(((h * 60 + m_) * 60 + s) * self.nominal + f, False)
        drop = (semicolon or drop_default) and self.df_rate
        if semicolon and not self.df_rate:
            self.note("df_at_ndf_rate", f"line {lineno} '{token}'")
        if m_ > 59 or s > 59:
            raise EdlTextError(f"'{token}' is not a timecode (minutes and seconds go to 59)", lineno)
        carried = bumped = False
        if f >= self.nominal:
            if f > self.nominal:
                raise EdlTextError(
                    f"timecode '{token}' has frame {f}, which {self._rate_label()} fps "
                    f"timecode cannot have: the EDL is not {self._rate_label()} fps",
                    lineno,
                )
            f, s, carried = 0, s + 1, True
            if s == 60:
                s, m_ = 0, m_ + 1
                if m_ == 60:
                    m_, h = 0, h + 1
        if drop and s == 0 and m_ % 10 != 0 and f < self.nominal // 15:
            f, bumped = self.nominal // 15, True
        return _Tc(tc_to_frames(h, m_, s, f, self.nominal, drop), drop, carried, bumped, semicolon)

    def _rate_label(self) -> str:
        r = self.rate
        return str(r.numerator) if r.denominator == 1 else f"{float(r):.3f}".rstrip("0")

    def fmt(self, frames: int, drop: bool) -> str:
        return frames_to_tc(frames, self.nominal, drop and self.df_rate)


def _is_event_line(fields: list[str]) -> bool:
    if len(fields) not in (8, 9) or not fields[0].isdigit():
        return False
    for tok in fields[-4:]:
        if not (tok.isdigit() or _TC_RE.fullmatch(tok)):
            return False
    if len(fields) == 9 and not fields[4].replace(".", "", 1).isdigit():
        return False
    return True


def _fcm_drop(line: str) -> bool | None:
    m = _FCM_RE.match(line)
    if not m:
        return None
    mode = m.group("mode").upper().replace("-", " ").replace("_", " ")
    if "NON" in mode:
        return False
    if "DROP" in mode:
        return True
    return None


def prepare_edl(text: str, rate: Fraction) -> PreparedEdl:
    """Scan an EDL and build the text for the stock reader; see the module doc.

    Raises :class:`EdlTextError` for what cannot be read (a broken timecode, a
    record out before its record in, a line too long to be an EDL).
    """
    sc = _Scanner(text, rate)
    lines = sc.lines
    for i, line in enumerate(lines, 1):
        if len(line) > MAX_LINE:
            raise EdlTextError(f"line {i} is {len(line)} characters long; an EDL line is short", i)
        if "\x00" in line:
            raise EdlTextError("the file holds NUL bytes: it is not a text EDL", i)

    out: list[str | _EventLines] = []
    events: list[Event] = []
    title: str | None = None
    header_df: bool | None = None
    current_df: bool | None = None       # the last FCM seen (applies to sources)
    record_semicolons = False
    needs_ignore = False
    # per reader track: [end frame, number of clips]
    tracks: dict[str, list[int]] = {}

    i = 0
    n = len(lines)
    seen_event = False
    known: tuple[int, list[str]] | None = None   # the event line the look-ahead below stopped at
    while i < n:
        raw = lines[i]
        line = raw.strip()
        lineno = i + 1
        if known is not None and known[0] == i:
            fields, is_event = known[1], True   # checked already: each event line is split once
        else:
            fields = line.split()
            is_event = bool(line) and line[0].isdigit() and _is_event_line(fields)
        i += 1
        if not line:
            continue
        if not is_event:
            if not seen_event:
                # Header: TITLE and FCM are all the reader takes before the first event.
                if line.upper().startswith("TITLE:"):
                    title = line[6:].strip()
                    out.append("TITLE: " + title)
                else:
                    d = _fcm_drop(line)
                    if d is not None:
                        if header_df is None:
                            header_df = d
                        current_df = d
                        out.append(line)
                    elif line[0].isdigit() and len(_TC_SEARCH.findall(line)) >= 3:
                        sc.note("bad_event", f"line {lineno}")
                # anything else before the first event (comments, notes) is skipped:
                # the stock reader stops on it with "Unknown event type".
                continue
            # a line after an event that is not an event: a comment of that event
            # (this only happens for lines that start with a digit: handled below)
            if line[0].isdigit():
                out.append("* " + line)
            continue

        # ---- an event -------------------------------------------------------
        seen_event = True
        ev_fields = fields
        ev_line = lineno
        tr_fields: list[str] | None = None
        tr_line: int | None = None
        comments: list[tuple[int, str]] = []
        while i < n:
            nxt = lines[i].strip()
            if not nxt:
                i += 1
                continue
            nf = nxt.split()
            if nxt[0].isdigit() and _is_event_line(nf):
                if int(nf[0]) == int(ev_fields[0]) and tr_fields is None:
                    tr_fields, tr_line = nf, i + 1
                    i += 1
                    continue
                if int(nf[0]) == int(ev_fields[0]) and tr_fields is not None:
                    raise EdlTextError(f"event {nf[0]} has more than one transition line", i + 1)
                known = (i, nf)
                break
            if nxt[0].isdigit() and len(_TC_SEARCH.findall(nxt)) >= 3:
                sc.note("bad_event", f"line {i + 1}")
            comments.append((i + 1, nxt))
            i += 1
        # FCM lines among the comments apply to the events after them
        ev = _build_event(sc, len(events), ev_fields, ev_line, tr_fields, tr_line, comments,
                          header_df, current_df)
        for _ln, c in comments:
            d = _fcm_drop(c)
            if d is not None:
                current_df = d
        if any((hit := _TC_RE.fullmatch(t)) and hit.group(6) in ";.,"
               for t in (tr_fields or ev_fields)[-2:]):
            record_semicolons = True

        # ---- what the reader will do with it, per track ----------------------
        chan = ev.channel
        names = CHANNEL_MAP.get(chan, [chan])
        overlap = [t for t in names if t in tracks and tracks[t][1] and ev.record_in < tracks[t][0]]
        if overlap:
            if len(names) == 1:
                k = 2
                while True:
                    alt = f"{names[0]}_{k}"
                    st = tracks.get(alt)
                    if st is None or not st[1] or st[0] <= ev.record_in:
                        break
                    k += 1
                ev.reader_channel = alt
                names = [alt]
                sc.note("overlap", f"event {ev.number} (line {ev.line}) onto track {alt}")
            else:
                needs_ignore = True
                sc.note("overlap_shift", f"event {ev.number} (line {ev.line})")
        if tr_fields is not None and any(t not in tracks or not tracks[t][1] for t in names):
            sc.note("start_transition", f"event {ev.number} (line {ev.line})")
            tr_fields = None
            ev.edit = "C"
        elif tr_fields is not None and not _TRANSITION_RE.match(tr_fields[3] if len(tr_fields) == 9 else ""):
            sc.note("odd_transition", f"event {ev.number} (line {ev.line}) '{tr_fields[3]}'")
            tr_fields = None
            ev.edit = "C"
        for t in names:
            st = tracks.setdefault(t, [0, 0])
            st[0] = max(st[0], ev.record_in) + (ev.record_out - ev.record_in)
            st[1] += 1

        # ---- the lines handed to the reader ------------------------------------
        if tr_fields is not None:
            ev.transition = (tr_fields[0], tr_fields[3], tr_fields[4])
            ev.a_side_cut = len(ev_fields) == 8 and ev_fields[3] == "C"
            for k, tok in enumerate(ev_fields[-4:]):   # the a-side's timecodes must read (and warn) now
                sc.parse_tc(tok, ev.line, ev.source_drop_frame if k < 2 else ev.record_drop_frame)
        out.append(_EventLines(sc, ev, ev_fields, tr_fields))
        out.append(_Tag(f"* {EVENT_TAG} {ev.index}"))
        first_comment = len(out)
        for ln, c in comments:
            if "LOC" in c and _LOC_RE.match(c):   # (the substring first: most comments are neither)
                continue
            m2 = _M2_RE.match(c) if "M2" in c else None
            if m2:
                body = _M2_BODY_RE.match(m2.group("body"))
                if body:
                    tc = body.group("tc")
                    tm = _TC_RE.fullmatch(tc)
                    tc11 = (f"{int(tm.group(1)):02d}:{int(tm.group(3)):02d}:{int(tm.group(5)):02d}:"
                            f"{int(tm.group(7)):02d}" if tm else "00:00:00:00")
                    speed = body.group("speed").lstrip("+")
                    out.append(f"M2   {body.group('name')}   {speed}   {tc11}")
                continue
            if c[0].isdigit():
                out.append("* " + c)
            else:
                out.append(c)
        ev.reader_comments = out[first_comment:]  # type: ignore[assignment]   # comments are strings
        events.append(ev)

    warnings = _warnings(sc)
    first_event = next((k for k, ln in enumerate(out) if type(ln) is _EventLines), len(out))
    return PreparedEdl(
        reader_header=out[:first_event],  # type: ignore[arg-type]   # strings before the first event
        reader_parts=out,
        events=events,
        title=title,
        header_drop_frame=(header_df and sc.df_rate) if header_df is not None else None,
        record_semicolons=record_semicolons and sc.df_rate,
        needs_ignore_mismatch=needs_ignore,
        warnings=warnings,
    )


def _build_event(sc: _Scanner, index: int, ev_fields: list[str], ev_line: int,
                 tr_fields: list[str] | None, tr_line: int | None,
                 comments: list[tuple[int, str]], header_df: bool | None,
                 current_df: bool | None) -> Event:
    # The reader takes the clip from the transition line (the b-side) when there is one.
    f = tr_fields or ev_fields
    fl = tr_line or ev_line
    src_i, src_o, rec_i, rec_o = f[-4:]
    rec_df = bool(header_df)
    src_df = bool(current_df)
    ri = sc.parse_tc(rec_i, fl, rec_df)
    ro = sc.parse_tc(rec_o, fl, rec_df)
    si = sc.parse_tc(src_i, fl, src_df)
    so = sc.parse_tc(src_o, fl, src_df)
    for tc, tok in ((ri, rec_i), (ro, rec_o), (si, src_i), (so, src_o)):
        if tc.carried:
            sc.note("carry", f"line {fl} '{tok}'")
        if tc.bumped:
            sc.note("bumped", f"line {fl} '{tok}'")
    if ro.frames < ri.frames:
        raise EdlTextError(
            f"event {f[0]}: record out {rec_o} is before record in {rec_i}", fl)
    # Retimes the reader handles itself: an M2 line or a freeze frame.
    retimed = False
    for _ln, c in comments:
        if "M2" in c and (m2 := _M2_RE.match(c)):
            body = _M2_BODY_RE.match(m2.group("body"))
            if body:
                retimed = True
            else:
                sc.note("bad_m2", f"line {_ln}")
        elif "FREEZE" in c and _FREEZE_RE.match(c):
            retimed = True
    rec_len = ro.frames - ri.frames
    src_out = so.frames
    if not retimed and so.frames - si.frames != rec_len:
        sc.note("mismatch", f"event {f[0]} (line {fl}): source {so.frames - si.frames} frames, "
                            f"record {rec_len}")
        src_out = si.frames + rec_len
    ev = Event(
        index=index, number=ev_fields[0], line=ev_line, transition_line=tr_line,
        reel=f[1], channel=f[2], reader_channel=f[2],
        edit=f[3], record_in=ri.frames, record_out=ro.frames,
        source_in=si.frames, source_out=src_out,
        source_drop_frame=si.drop, record_drop_frame=ri.drop, retimed=retimed,
    )
    for ln, c in comments:
        m = _LOC_RE.match(c) if "LOC" in c else None
        if not m:
            continue
        loc = _parse_loc(sc, ln, c, m.group("body"), rec_df)
        if loc is not None:
            ev.locators.append(loc)
    return ev


def _parse_loc(sc: _Scanner, lineno: int, line: str, body: str, rec_df: bool) -> Locator | None:
    m = _LOC_BODY_RE.match(body.strip())
    if not m:
        sc.note("bad_loc", f"line {lineno}")
        return None
    tc_text = m.group("tc")
    try:
        tc = sc.parse_tc(tc_text, lineno, rec_df)
    except EdlTextError:
        sc.note("bad_loc", f"line {lineno}")
        return None
    if tc.carried:
        sc.note("carry", f"line {lineno} '{tc_text}'")
    rest = (m.group("rest") or "").strip()
    word, _, remainder = rest.partition(" ")
    key = word.upper()
    if key.startswith("RESOLVECOLOR"):
        key = key[len("RESOLVECOLOR"):]
    if word and key in LOC_COLOURS:
        return Locator(lineno, line, tc_text, tc.frames, tc.drop, word, LOC_COLOURS[key],
                       remainder.strip())
    return Locator(lineno, line, tc_text, tc.frames, tc.drop, None, "RED", rest)


def _event_lines(sc: _Scanner, ev: Event, ev_fields: list[str],
                 tr_fields: list[str] | None) -> list[str]:
    """The event's line(s) as the reader should see them, rebuilt from fields.

    The clip line carries the event's (fixed) timecodes; a kept transition is
    written as its a-side line then its b-side line, as in the file.
    """
    clip_tcs = [sc.fmt(ev.source_in, ev.source_drop_frame),
                sc.fmt(ev.source_out, ev.source_drop_frame),
                sc.fmt(ev.record_in, ev.record_drop_frame),
                sc.fmt(ev.record_out, ev.record_drop_frame)]
    if tr_fields is None:
        return ["  ".join([ev.number, ev.reel, ev.reader_channel, "C"] + clip_tcs)]
    # a-side: the reader reads it, then overwrites all of it with the b-side
    a_tcs = []
    for k, tok in enumerate(ev_fields[-4:]):
        tc = sc.parse_tc(tok, ev.line, ev.source_drop_frame if k < 2 else ev.record_drop_frame)
        a_tcs.append(sc.fmt(tc.frames, tc.drop))
    a_head = [ev_fields[0], ev_fields[1], ev.reader_channel] + ev_fields[3:-4]
    b_head = [tr_fields[0], tr_fields[1], ev.reader_channel, tr_fields[3], tr_fields[4]]
    return ["  ".join(a_head + a_tcs), "  ".join(b_head + clip_tcs)]


_MESSAGES = {
    "mismatch": "{n} event(s) have source and record durations that disagree ({ex}); "
                "the record length was kept and the source out moved to match",
    "carry": "{n} timecode(s) have a frame number equal to the frame rate ({ex}); "
             "they were read as the first frame of the next second. If the EDL is "
             "not at this rate, pass the right --rate",
    "bumped": "{n} drop-frame timecode(s) name frames that drop frame skips ({ex}); "
              "they were read as the next existing frame",
    "df_at_ndf_rate": "{n} timecode(s) are written as drop frame at a rate without drop "
                      "frame ({ex}); they were read as non-drop",
    "overlap": "{n} event(s) overlap earlier events in record time; they were put on "
               "extra tracks ({ex})",
    "overlap_shift": "{n} event(s) overlap earlier events in record time and could not be "
                     "put on another track; they were moved later, after the event before "
                     "them ({ex}), so record times from there on are not exact",
    "start_transition": "{n} transition(s) open a track, with nothing to dissolve from "
                        "({ex}); they were read as cuts",
    "odd_transition": "{n} transition(s) of a kind OTIO cannot read ({ex}); they were "
                      "read as cuts",
    "bad_event": "{n} line(s) start like an event but are not one ({ex}); they were "
                 "kept as comments",
    "bad_loc": "{n} LOC line(s) have no readable timecode ({ex}); they were ignored",
    "bad_m2": "{n} M2 (speed) line(s) could not be read ({ex}); they were ignored",
}


def _warnings(sc: _Scanner) -> list[str]:
    out = []
    for kind, examples in sc.counts.items():
        ex = ", ".join(examples[:3]) + (", ..." if len(examples) > 3 else "")
        out.append(_MESSAGES[kind].format(n=len(examples), ex=ex))
    return out
