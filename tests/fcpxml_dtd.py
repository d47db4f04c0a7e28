"""A DTD to check an FCPXML document with libxml2's validator (through lxml), generated for that document.

Apple's FCPXML DTDs (FCPXMLv1_N.dtd, shipped inside Final Cut Pro and copied into some public
repositories) carry no licence that lets them be copied here. So the check is generated:

* the elements ShotFill writes into a document (``<resources>``, ``<asset>``, ``<media-rep>``,
  ``<asset-clip>``, ``<note>``) get the content models and attribute lists of the published DTDs
  (for ``<asset-clip>`` the union over versions 1.8 to 1.14 of its children, in their order;
  FCPXML 1.9 moved an asset's file into ``<media-rep>``), so a child
  out of order, an attribute the DTD does not have, a missing required attribute or a bad value
  fails;
* every other element the document holds is declared ``ANY`` with the attributes it has, so the
  editor's own elements pass as they are;
* ``id`` attributes are IDs and ``ref``/``format`` attributes IDREFs throughout, so a duplicate id
  or a reference to no resource fails.

Where Apple's own DTDs are at hand (a Final Cut Pro install, or ``SHOTFILL_FCPXML_DTDS`` naming a folder
of ``FCPXMLv1_N.dtd`` files), :func:`apple_dtd` finds the one of a document's version, and
``test_fcpxml_interop.py`` validates every output against it as well.
"""

from __future__ import annotations

import glob
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

_VIDEO_PARAMS = ("object-tracker? , adjust-crop? , adjust-corners? , adjust-conform? , adjust-transform? , "
                 "adjust-blend? , adjust-stabilization? , adjust-rollingShutter? , adjust-360-transform? , "
                 "adjust-reorient? , adjust-orientation? , adjust-cinematic? , adjust-colorConform? , adjust-stereo-3D?")
_ANCHOR = ("audio | video | clip | title | caption | mc-clip | ref-clip | sync-clip | asset-clip | audition | spine"
           " | live-drawing")
_MARKER = "marker | chapter-marker | rating | keyword | analysis-marker"

_ASSET_CLIP = (f"(note? , conform-rate? , timeMap? , {_VIDEO_PARAMS} , adjust-volume? , adjust-panner? , "
               f"({_ANCHOR})* , ({_MARKER})* , audio-channel-source* , (filter-video | filter-video-mask)* , "
               "filter-audio* , metadata?)")
_CLIP_ATTRS = """
    ref IDREF #REQUIRED
    lane CDATA #IMPLIED
    offset CDATA #IMPLIED
    name CDATA #IMPLIED
    start CDATA #IMPLIED
    duration CDATA #REQUIRED
    enabled (0 | 1) '1'
    format IDREF #IMPLIED
    tcStart CDATA #IMPLIED
    tcFormat (DF | NDF) #IMPLIED
    audioRole CDATA #IMPLIED
    videoRole CDATA #IMPLIED
    srcEnable (all | audio | video) 'all'
    audioStart CDATA #IMPLIED
    audioDuration CDATA #IMPLIED
    modDate CDATA #IMPLIED"""
_ASSET_ATTRS = """
    id ID #REQUIRED
    name CDATA #IMPLIED
    uid CDATA #IMPLIED
    start CDATA #IMPLIED
    duration CDATA #IMPLIED
    hasVideo CDATA #IMPLIED
    format IDREF #IMPLIED
    hasAudio CDATA #IMPLIED
    videoSources CDATA #IMPLIED
    audioSources CDATA #IMPLIED
    audioChannels CDATA #IMPLIED
    audioRate CDATA #IMPLIED
    customLUTOverride CDATA #IMPLIED
    colorSpaceOverride CDATA #IMPLIED
    projectionOverride CDATA #IMPLIED
    stereoscopicOverride CDATA #IMPLIED
    auxVideoFlags CDATA #IMPLIED"""

_IDREF = {"ref": ("video", "audio", "title", "ref-clip", "mc-clip"), "format": ("sequence", "clip", "spine")}


def _version(root: ET.Element) -> tuple[int, int]:
    major, _, minor = (root.get("version") or "1.8").partition(".")
    return int(major), int(minor or 0)


def dtd_for(doc: Path) -> str:
    root = ET.parse(doc).getroot()
    modern = _version(root) >= (1, 9)
    strict = {
        "resources": "(asset | effect | format | media | locator | projectRef)*",
        "asset": "(media-rep+ , metadata?)" if modern else "(bookmark? , metadata?)",
        "media-rep": "(bookmark?)",
        "asset-clip": _ASSET_CLIP,
        "note": "(#PCDATA)",
    }
    lists = {
        "asset": _ASSET_ATTRS + ("" if modern else "\n    src CDATA #REQUIRED"),
        "media-rep": """
    kind (original-media | proxy-media) 'original-media'
    sig CDATA #IMPLIED
    src CDATA #REQUIRED
    suggestedFilename CDATA #IMPLIED""",
        "asset-clip": _CLIP_ATTRS,
        "resources": "",
        "note": "",
    }
    seen: dict[str, set[str]] = {}
    for el in root.iter():
        seen.setdefault(el.tag, set()).update(el.attrib)
    out = []
    for tag in sorted(seen):
        if tag in strict:
            out.append(f"<!ELEMENT {tag} {strict[tag]}>")
            if lists[tag]:
                out.append(f"<!ATTLIST {tag}{lists[tag]}>")
            continue
        out.append(f"<!ELEMENT {tag} ANY>")
        attrs = []
        for a in sorted(seen[tag]):
            kind = "ID" if a == "id" else "IDREF" if tag in _IDREF.get(a, ()) else "CDATA"
            attrs.append(f"    {a} {kind} #IMPLIED")
        if attrs:
            out.append(f"<!ATTLIST {tag}\n" + "\n".join(attrs) + ">")
    return "\n".join(out) + "\n"


def dtd_valid(doc: Path, dtd_dir: Path) -> tuple[bool, str]:
    """libxml2's DTD validation of ``doc`` against its generated DTD: (valid, what libxml2 said)."""
    dtd = dtd_dir / ("".join(c if c.isalnum() else "_" for c in doc.stem) + ".dtd")
    dtd.write_text(dtd_for(doc), encoding="utf-8")
    return _validate(doc, dtd)


def _validate(doc: Path, dtd: Path) -> tuple[bool, str]:
    # lxml is libxml2, the validator xmllint runs, without needing libxml2-utils on the machine;
    # no network and no entity expansion, as a hostile document would want.
    from lxml import etree

    parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
    try:
        tree = etree.parse(str(doc), parser)
    except etree.XMLSyntaxError as exc:
        return False, f"{doc}: not well-formed: {exc}"
    checker = etree.DTD(str(dtd))
    ok = checker.validate(tree)
    return ok, "\n".join(f"{doc}:{e.line}: {e.message}" for e in checker.error_log)


#: where Final Cut Pro keeps its DTDs (macOS); a folder in SHOTFILL_FCPXML_DTDS comes first
_FCP_DTD_GLOB = "/Applications/Final Cut Pro*.app/Contents/Frameworks/Interchange.framework/Versions/A/Resources"


def apple_dtd_dirs() -> list[Path]:
    dirs = [Path(os.environ["SHOTFILL_FCPXML_DTDS"])] if os.environ.get("SHOTFILL_FCPXML_DTDS") else []
    return dirs + [Path(p) for p in sorted(glob.glob(_FCP_DTD_GLOB))]


def apple_dtd(version: str) -> Path | None:
    """Apple's DTD for FCPXML ``version`` ("1.10" -> FCPXMLv1_10.dtd), when one is on this machine."""
    if not re.fullmatch(r"\d+\.\d+", version):
        return None
    name = "FCPXMLv" + version.replace(".", "_") + ".dtd"
    return next((d / name for d in apple_dtd_dirs() if (d / name).is_file()), None)


def apple_valid(doc: Path, dtd: Path) -> tuple[bool, str]:
    """libxml2's DTD validation of ``doc`` against Apple's DTD: (valid, what libxml2 said)."""
    return _validate(doc, dtd)
