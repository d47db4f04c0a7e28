"""Reading FCPXML with exact frame rates, and what the sequence says of itself.

OTIO's ``fcpx_xml`` adapter truncates every rate to an integer (23.976 -> 23),
times items at their media's rate rather than the sequence's (so they drift),
fills the start timecode with a Gap, and mishandles several things Final Cut
Pro writes (markers of connected clips taken twice, a generator straight in
a storyline, every alternative of an ``<audition>``, ``<media-rep>`` in
FCPXML 1.9+, markers on gaps dropped, ``<title>`` elements dropped with their
markers, so a title named or marked ``GEN:`` was a hole nobody saw).  :func:`read_fcpx` runs a subclass of
its reader that fixes these, and reads the rate, start timecode, frame size
and drop-frame flag from the ``<sequence>`` itself; if that subclass fails on
a file, the stock reader is used, with a warning.
"""

from __future__ import annotations

import contextlib
import io
from fractions import Fraction
from pathlib import Path
from typing import Any

import opentimelineio as otio

from shotfill.errors import TimelineError
from shotfill.timeline.metadata import int_or_none
from shotfill.rates import normalize_rate
from shotfill.timeline.adapters import call_adapter, read_string
from shotfill.timeline.xml.decode import decode_xml


def _fcpx_seconds(value: str | None) -> Fraction:
    """FCPXML time: ``"0s"``, ``"3600s"``, ``"1001/24000s"`` -> seconds."""
    if not value:
        return Fraction(0)
    v = value.strip().rstrip("s")
    if "/" in v:
        a, b = v.split("/", 1)
        return Fraction(int(a), int(b))
    return Fraction(v)


def _exact_fcpx_class():
    """The FCPX adapter's reader with exact rates (it truncates 23.976 to 23)."""
    from otio_fcpx_xml_adapter import fcpx_xml as fx

    RT = otio.opentime.RationalTime
    TR = otio.opentime.TimeRange

    class ExactFcpxXml(fx.FcpxXml):
        fallback_format: str | None = None

        def exact_rate(self, format_id) -> Fraction:
            fmt = self._format_by_id(format_id) if format_id else None
            fd = fmt.get("frameDuration") if fmt is not None else None
            if not fd:
                if self.fallback_format and format_id != self.fallback_format:
                    return self.exact_rate(self.fallback_format)
                raise ValueError(f"format {format_id!r} has no frameDuration")
            return normalize_rate(1 / _fcpx_seconds(fd))

        def _format_frame_rate(self, format_id):
            return float(self.exact_rate(format_id))

        def _number_of_frames(self, time_value, format_id):
            return int(round(_fcpx_seconds(time_value) * self.exact_rate(format_id)))

        def rt(self, value, format_id):
            r = self.exact_rate(format_id)
            return RT(int(round(_fcpx_seconds(value) * r)), float(r))

        def _time_range(self, element, format_id):
            # Everything in the timeline is timed at the sequence's rate: an
            # item's duration there is a whole number of sequence frames even
            # when its media has another rate (the stock reader uses the
            # media's rate and drifts).  A source start keeps its exact time.
            r = self.exact_rate(self.fallback_format or format_id)
            start = _fcpx_seconds(element.get("start", "0s")) * r
            start_v = int(start) if start.denominator == 1 else float(start)
            return TR(start_time=RT(start_v, float(r)),
                      duration=RT(int(round(_fcpx_seconds(element.get("duration")) * r)), float(r)))

        def _build_composable(self, element, default_format):
            timing_clip = self._timing_clip(element)
            source_range = self._time_range(
                timing_clip, self._format_id_for_clip(element, default_format))
            if element.tag != "ref-clip":
                composable = otio.schema.Clip(
                    name=timing_clip.get("name"),
                    media_reference=self._reference_from_id(element.get("ref"), default_format),
                    source_range=source_range)
            else:
                media_element = self._compound_clip_by_id(element.get("ref"))
                composable = self._squence_to_stack(
                    media_element.find("./sequence"), name=media_element.get("name"),
                    source_range=source_range)
            # only the clip's own markers: the stock reader also takes those of
            # every clip connected to it (".//marker"), so they appear twice
            for marker in self.own_markers(timing_clip):
                composable.markers.append(self._marker(marker, default_format))
            return composable

        def own_markers(self, owner):
            found = []
            for marker in owner.iter("marker"):
                node = self.child_parent_map.get(marker)
                mine = True
                while node is not None and node is not owner:
                    if node.get("lane") is not None or node.tag in (
                            "clip", "asset-clip", "ref-clip", "title", "gap", "spine",
                            "audition", "sync-clip", "mc-clip"):
                        mine = False
                        break
                    node = self.child_parent_map.get(node)
                if mine:
                    found.append(marker)
            return found

        def _timing_clip(self, clip):
            # a generator (<video ref="effect">) straight in a storyline has no
            # clip around it: it times itself (the stock reader crashes on it);
            # a title always times itself, even when connected to a clip
            if clip.tag == "title":
                return clip
            node = clip
            while node is not None and node.tag not in ("clip", "asset-clip", "ref-clip"):
                node = self.child_parent_map.get(node)
            return node if node is not None else clip

        def _format_id_for_clip(self, clip, default_format):
            if not clip.get("ref", None) or clip.tag == "gap":
                return default_format
            resource = self._asset_by_id(clip.get("ref"))
            if resource is None:
                media = self._compound_clip_by_id(clip.get("ref"))
                resource = media.find("sequence") if media is not None else None
            return resource.get("format", default_format) if resource is not None else default_format

        def _reference_from_id(self, asset_id, default_format):
            asset = self._asset_by_id(asset_id)
            if asset is None:
                effect = self.fcpx_xml.find(f"./resources/effect[@id='{asset_id}']") if asset_id else None
                if effect is not None:
                    return otio.schema.GeneratorReference(
                        name=effect.get("name", ""), generator_kind=effect.get("name", "") or "effect",
                        metadata={"fcpx": {"uid": effect.get("uid", "")}})
                return otio.schema.MissingReference()
            # FCPXML 1.9+ moved the file into <media-rep kind="original-media" src=...>.
            src = asset.get("src", "")
            if not src:
                rep = asset.find("media-rep[@kind='original-media']")
                rep = rep if rep is not None else asset.find("media-rep")
                src = rep.get("src", "") if rep is not None else ""
            if not src:
                return otio.schema.MissingReference()
            fmt = asset.get("format", default_format)
            available_range = TR(start_time=self.rt(asset.get("start"), fmt),
                                 duration=self.rt(asset.get("duration"), fmt))
            asset_clip = self._assetclip_by_ref(asset_id)
            metadata = self._create_metadta(asset_clip) if asset_clip is not None else {}
            return otio.schema.ExternalReference(target_url=src,
                                                 available_range=available_range,
                                                 metadata={"fcpx": metadata})

        def _offset_and_lane(self, clip, default_format):
            clip = self._timing_clip(clip)
            parent = self.child_parent_map.get(clip)
            if parent.tag == "spine" and parent.get("lane", None):
                lane = parent.get("lane")
                parent = self.child_parent_map.get(parent)
                spine = True
            else:
                lane = clip.get("lane", "0")
                spine = False
            seconds = _fcpx_seconds(clip.get("offset"))
            if not spine:
                seconds -= _fcpx_seconds(parent.get("start", None))
            seconds += _fcpx_seconds(parent.get("offset", None))
            r = self.exact_rate(default_format)
            return RT(int(round(seconds * r)), float(r)), lane

        def inactive_audition_pick(self, element) -> bool:
            """In an <audition> only the first child is in the edit; the stock
            reader puts every alternative on the track, one after another."""
            node = element
            while node is not None:
                parent = self.child_parent_map.get(node)
                if parent is not None and parent.tag == "audition" and len(parent) and parent[0] is not node:
                    return True
                node = parent
            return False

        def _squence_to_stack(self, sequence_element, name="", source_range=None):
            seq_format = sequence_element.get("format")
            if self.fallback_format is None:
                self.fallback_format = seq_format
            rate = float(self.exact_rate(seq_format))
            # offsets count from the sequence's start timecode (tcStart), which
            # becomes global_start_time; the stock reader fills it with a Gap
            origin = int(round(_fcpx_seconds(sequence_element.get("tcStart")) * self.exact_rate(seq_format)))
            items = []
            lanes = []
            stack = otio.schema.Stack(name=name, source_range=source_range)
            gap_markers = []   # (lane, absolute sequence frame, Marker): the stock reader drops them
            for element in sequence_element.iter():
                if element.tag == "gap" and element.find("./marker") is not None:
                    parent = self.child_parent_map.get(element)
                    if parent is not None and parent.tag == "spine":
                        lane = parent.get("lane", "0") or "0"
                        r = self.exact_rate(seq_format)
                        base = _fcpx_seconds(element.get("offset")) - _fcpx_seconds(element.get("start"))
                        if parent.get("lane"):
                            owner = self.child_parent_map.get(parent)
                            base += _fcpx_seconds(owner.get("offset")) - _fcpx_seconds(owner.get("start"))
                        for m_el in element.findall("./marker"):
                            at = int(round((base + _fcpx_seconds(m_el.get("start"))) * r))
                            gap_markers.append((lane, at, self._marker(m_el, seq_format)))
                # titles too: the stock reader drops them (a title is a generator, a placeholder when named GEN:)
                if element.tag not in fx.COMPOSABLE_ELEMENTS and element.tag != "title":
                    continue
                if self.inactive_audition_pick(element):
                    continue
                composable = self._build_composable(element, seq_format)
                offset, lane = self._offset_and_lane(element, seq_format)
                items.append({"track": lane, "offset": offset, "composable": composable,
                              "audio_only": self._audio_only(element)})
                lanes.append(lane)
            for lane in sorted(set(lanes)):
                sorted_items = self._sorted_items(lane, items)
                track = otio.schema.Track(name=lane, kind=self._track_type(sorted_items))
                end = 0
                for item in sorted_items:
                    diff = int(item["offset"].value) - origin - end
                    if diff > 0:
                        track.append(self._create_gap(0, diff, seq_format))
                        end += diff
                    track.append(item["composable"])
                    end += int(round(item["composable"].duration().rescaled_to(rate).value))
                stack.append(track)
            for lane, at, marker in gap_markers:
                self.attach_gap_marker(stack, lane, at - origin, marker, rate)
            return stack

        @staticmethod
        def attach_gap_marker(stack, lane, frame, marker, rate):
            """Put a <gap>'s marker on the OTIO Gap at that place, in the Gap's own time."""
            for track in stack:
                if track.name != lane:
                    continue
                pos = 0
                for item in track:
                    length = int(round(item.duration().rescaled_to(rate).value))
                    if isinstance(item, otio.schema.Gap) and pos <= frame < pos + max(length, 1):
                        start = int(round(item.source_range.start_time.rescaled_to(rate).value)) \
                            if item.source_range is not None else 0
                        dur = marker.marked_range.duration
                        marker.marked_range = TR(RT(start + frame - pos, rate), dur)
                        item.markers.append(marker)
                        return
                    pos += length

    return ExactFcpxXml


def _fcpx_sequence(root):
    """The <sequence> of the project the adapter turns into the first timeline."""
    if root.find("./library") is not None:
        event = root.find("./library/event")
        projects = event.findall("./project") if event is not None else []
    elif root.find("./event") is not None:
        projects = root.find("./event").findall("./project")
    elif root.find("./project") is not None:
        projects = [root.find("./project")]
    else:
        projects = []
    for project in projects:
        seq = project.find("./sequence")
        if seq is not None:
            return seq
    return None


def read_fcpx(p: Path, shown: str, warnings: list[str]) -> tuple[Any, dict[str, Any]]:
    """The adapter's object for ``p`` (a file or an ``.fcpxmld`` bundle), and its sequence's facts.

    The facts (``rate``, ``width``, ``height``, ``drop_frame``, ``start_frame``, where the
    sequence gives them) are for :mod:`shotfill.timeline.read`, which builds the result.
    """
    if p.is_dir():
        p = p / "Info.fcpxml"
    text = decode_xml(p, shown, warnings)
    try:
        cls = _exact_fcpx_class()
    except ImportError:
        raise TimelineError(
            f"{shown}: FCPXML needs the OTIO adapter 'fcpx_xml', which is not installed",
            hint="pip install otio-fcpx-xml-adapter") from None

    def exact():
        reader = cls(text)
        root = reader.fcpx_xml
        if root.find("./project/resources") is not None and root.find("./project/sequence") is None:
            raise TimelineError(
                f"{shown}: is an FCPXML {root.get('version', '')} event listing with no sequence "
                "in it, which the FCPXML adapter cannot read",
                hint="export the project from Final Cut Pro 10.4 or later (FCPXML 1.8+)")
        return reader, reader.to_otio()

    try:
        with contextlib.redirect_stdout(io.StringIO()):
            reader, obj = exact()
    except TimelineError:
        raise
    except Exception as exc:  # noqa: BLE001 - fall back to the stock reader
        obj = call_adapter(shown, "fcpx_xml", "fcpx_xml", lambda: read_string(text, "fcpx_xml"))
        reader = None
        warnings.append(f"{shown}: read with the stock FCPXML reader ({type(exc).__name__}: {exc}); "
                        "its frame rates are rounded down to whole numbers")
    if obj is None:
        raise TimelineError(f"{shown}: holds no project, event or clips to read",
                            hint="export the project itself (File > Export XML)")
    info: dict[str, Any] = {}
    root = reader.fcpx_xml if reader is not None else None
    if root is not None:
        seq = _fcpx_sequence(root)
        if seq is not None:
            fmt_id = seq.get("format")
            fmt_el = reader._format_by_id(fmt_id) if fmt_id else None
            try:
                info["rate"] = reader.exact_rate(fmt_id)
            except ValueError:
                pass
            if fmt_el is not None:
                info["width"] = int_or_none(fmt_el.get("width"))
                info["height"] = int_or_none(fmt_el.get("height"))
            tc_format = (seq.get("tcFormat") or "").upper()
            if tc_format in ("DF", "NDF"):
                info["drop_frame"] = tc_format == "DF"
            if "rate" in info:
                info["start_frame"] = int(round(_fcpx_seconds(seq.get("tcStart")) * info["rate"]))
    return obj, info
