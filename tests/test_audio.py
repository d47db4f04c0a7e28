"""Native audio: asked for with ``audio=on`` / ``--audio``, sent in each service's own field, conformed to
48 kHz PCM of exactly the hole's samples, and placed on an audio track under the clip in every format.

The services are the local fakes (real HTTP); the media is real (ffmpeg, checked with ffprobe); the
outputs are read back with OTIO's own adapters.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from fakes.openai import FakeOpenAI
from fakes.veo import FakeVeo
from mediautil import decoded_frames, ffmpeg, ffprobe_json, video_stream
from provider_harness import KEY
from hash_before import hash_before_later_fields
from shotfill.cli.app import main
from shotfill.config import KEY_ENV, load_settings
from shotfill.media.audio import samples_for
from shotfill.model import GenerationRequest
from shotfill.plan.requests import request_hash
from shotfill.providers import get_provider
from shotfill.providers.base import ProviderContext
from shotfill.rates import frames_to_timecode
from shotfill.scan.notes import parse_note
from timelines import clip, gap, marker

R24 = Fraction(24000, 1001)
R30 = Fraction(30000, 1001)

#: the gateway model of the tests, declared with sound (Sora 2 makes it with every clip)
SOUNDING = ('[providers.openai.models."sora-2"]\ndurations = [4, 8, 12]\nsizes = ["1280x720", "720x1280"]\n'
            "first_frame = true\naudio = true\nprice_per_second = 0.10\naudio_price_per_second = 0.30\n")


def tc(frame: int, rate: Fraction, drop: bool = False) -> str:
    return frames_to_timecode(frame, rate, drop)


def make_sounding(path: Path, seconds: int = 4) -> Path:
    """A 320x180 H.264 clip at 24 fps with a 1 kHz tone (AAC, 44.1 kHz): what a service with sound returns."""
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=s=320x180:r=24:d={seconds}", "-f", "lavfi",
           "-i", f"sine=f=1000:r=44100:d={seconds}", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac",
           "-shortest", str(path))
    return path


@pytest.fixture(scope="module")
def sounding(tmp_path_factory) -> bytes:
    return make_sounding(tmp_path_factory.mktemp("sound") / "with_audio.mp4").read_bytes()


def audio_stream(path: Path) -> dict | None:
    streams = ffprobe_json(path, "-show_streams")["streams"]
    return next((s for s in streams if s["codec_type"] == "audio"), None)


def decoded_samples(path: Path) -> int:
    """Samples a decoder delivers (per channel), counted from the raw PCM ffmpeg writes."""
    st = audio_stream(path)
    assert st is not None
    raw = ffmpeg("-i", str(path), "-map", "0:a:0", "-f", "s32le", "-").stdout
    return len(raw) // (4 * int(st["channels"]))


def assert_sound(path: Path, frames: int, rate: Fraction, codec: str = "pcm_s24le") -> None:
    """The conformed file, probed with ffprobe: picture frames exact, 48 kHz PCM of exactly the hole's samples."""
    assert decoded_frames(path) == frames
    assert Fraction(video_stream(path)["r_frame_rate"]) == rate
    a = audio_stream(path)
    assert a is not None, f"{path} has no audio stream"
    want = samples_for(frames, rate)
    assert want == round(Fraction(frames) * 48000 / rate)
    assert (a["codec_name"], int(a["sample_rate"])) == (codec, 48000)
    assert Fraction(a["time_base"]) == Fraction(1, 48000) and int(a["duration_ts"]) == want
    assert decoded_samples(path) == want


def config(tmp_path: Path, url: str, provider: str = "openai", extra: str = "") -> Path:
    lines = [f'default_provider = "{provider}"', f"[providers.{provider}]", f'base_url = "{url}"',
             "poll_interval = 0.01", "timeout = 60"]
    if provider == "veo":
        lines.append('project = "shotfill-test"')
    cfg = tmp_path / "shotfill.toml"
    cfg.write_text("\n".join(lines) + "\n" + (SOUNDING if provider == "openai" else "") + extra)
    return cfg


def otio_cut(tmp_path: Path, rate: Fraction, note: str, frames: int = 30) -> Path:
    """V1: a 20-frame slug-less clip | a gap with the GEN note | another clip; from 01:00:00:00."""
    tl = otio.schema.Timeline(name="cut", global_start_time=otio.opentime.RationalTime(3600 * 30 if rate == R30
                                                                                        else 86400, float(rate)))
    v1 = otio.schema.Track(name="V1", kind="Video")
    v1.append(clip("a", 20, rate))
    v1.append(gap(frames, rate, marker(f"GEN: {note}", 0, 1, rate)))
    v1.append(clip("b", 20, rate))
    tl.tracks.append(v1)
    path = tmp_path / "cut.otio"
    otio.adapters.write_to_file(tl, str(path))
    return path


def gen_audio(tl: otio.schema.Timeline) -> list[tuple[int, int, otio.schema.Clip]]:
    """(record frame from the track's start, length, clip) of every clip on the timeline's audio tracks."""
    return [(t.range_of_child(c).start_time.to_frames(), c.duration().to_frames(), c)
            for t in tl.audio_tracks() for c in t if isinstance(c, otio.schema.Clip)]


# --- asked for, and in each service's own field ---------------------------------------------------


def test_audio_is_a_note_option_on_or_off():
    assert parse_note("a fox | audio=ON").options.audio == "on"
    assert parse_note("a fox | audio=off").options.audio == "off"
    bad = parse_note("a fox | audio=loud")
    assert bad.options.audio is None and "audio='loud' is not valid: it must be on or off" in bad.problems[0]


def _req(provider: str, model: str, audio: bool, **kw) -> GenerationRequest:
    req = GenerationRequest(placeholder_id="ph1", provider=provider, model=model, prompt="a fox", seed=3,
                            width=1280, height=720, rate=R24, frames=90, timecode="01:00:00:00", audio=audio, **kw)
    return req.model_copy(update={"request_hash": request_hash(req)})


def test_the_request_hashes_audio_only_when_asked_so_earlier_caches_stay_valid():
    off, on = _req("veo", "veo-3.1-generate-001", False), _req("veo", "veo-3.1-generate-001", True)
    assert off.request_hash != on.request_hash
    assert off.request_hash == hash_before_later_fields(off)      # as a request hashed before audio existed


@pytest.mark.parametrize("provider, model, field", [
    ("veo", "veo-3.1-generate-001", ("parameters", "generateAudio")),
    ("runway", "veo3.1", ("audio",)),
    ("fal", "fal-ai/ltx-2/image-to-video", ("generate_audio",)),
    ("replicate", "lightricks/ltx-2.5-fast", ("input", "generate_audio")),
])
def test_each_service_gets_its_own_audio_switch(tmp_path, monkeypatch, provider, model, field):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(KEY_ENV[provider], KEY)
    settings = load_settings(config(tmp_path, "http://127.0.0.1:9", provider))
    p = get_provider(provider, ProviderContext(settings=settings))
    png = tmp_path / "first.png"
    from mediautil import make_png
    make_png(png, 1920, 1080, "red")
    for audio in (False, True):
        req = _req(provider, model, audio, first_frame=str(png))
        plan = p.plan(req)
        assert plan.refused is None and plan.audio is audio
        body = p.build_body(req, plan)
        for k in field:
            body = body[k]
        assert body is audio                          # said either way: these models make sound unless told not to


def test_a_model_without_audio_is_refused_in_scan_and_fill(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    cfg = config(tmp_path, "http://127.0.0.1:9", "runway")
    monkeypatch.setenv(KEY_ENV["runway"], KEY)
    src = otio_cut(tmp_path, R24, "a fox | audio=on model=gen4.5")
    (tmp_path / "p").mkdir()
    plain = otio_cut(tmp_path / "p", R24, "a fox")
    assert main(["scan", str(src), "--config", str(cfg), "--resolution", "1280x720"]) == 0
    out = capsys.readouterr().out
    assert "REFUSED: audio=on asks for sound, but runway gen4.5 makes none" in out
    assert "runway's models with audio: veo3.1, veo3.1_fast" in out
    code = main(["fill", str(src), "--config", str(cfg), "--resolution", "1280x720", "-o", str(tmp_path / "o.otio")])
    err = capsys.readouterr().err
    assert code == 2
    assert "V1_01000020 at 01:00:00:20" in err                       # the placeholder, by id and timecode
    assert "runway gen4.5 makes none" in err and "veo3.1, veo3.1_fast" in err
    assert not (tmp_path / "o.otio").exists() and not (tmp_path / "o_media").exists()
    # --audio asks for every shot: the offline generator makes no sound either
    code = main(["fill", str(plain), "--provider", "local", "--audio", "--resolution",
                 "1280x720", "-o", str(tmp_path / "p.otio")])
    assert code == 2 and "local bridge-slate-1 makes none" in capsys.readouterr().err


def test_cost_reflects_the_audio_price(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV["veo"], KEY)
    settings = load_settings(config(tmp_path, "http://127.0.0.1:9", "veo"))
    veo = get_provider("veo", ProviderContext(settings=settings))
    off = veo.plan(_req("veo", "veo-3.1-generate-001", False))
    on = veo.plan(_req("veo", "veo-3.1-generate-001", True))
    assert (off.seconds, off.estimated_cost, on.estimated_cost) == (4.0, pytest.approx(0.80), pytest.approx(1.60))
    assert any(n.startswith("with audio") for n in on.notes) and not any("audio" in n for n in off.notes)
    fast = veo.plan(_req("veo", "veo-3.1-fast-generate-001", True))
    assert fast.estimated_cost == pytest.approx(0.15 * 4)


def test_dry_run_and_max_cost_count_the_audio_price(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(KEY_ENV["openai"], KEY)
    cfg = config(tmp_path, "http://127.0.0.1:9")
    src = otio_cut(tmp_path, R24, "a fox | audio=on")
    assert main(["fill", str(src), "--config", str(cfg), "--resolution", "1280x720", "-o", str(tmp_path / "o.otio"),
                 "--dry-run", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    row = rows[0] if isinstance(rows, list) else rows["placeholders"][0]
    assert row["plan"]["audio"] is True and row["plan"]["estimated_cost"] == pytest.approx(0.30 * 4)
    src2 = otio_cut(tmp_path, R24, "a fox")
    assert main(["fill", str(src2), "--config", str(cfg), "--resolution", "1280x720", "-o", str(tmp_path / "o.otio"),
                 "--dry-run", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    row = rows[0] if isinstance(rows, list) else rows["placeholders"][0]
    assert row["plan"]["audio"] is False and row["plan"]["estimated_cost"] == pytest.approx(0.10 * 4)


# --- conform: 48 kHz PCM, exactly the hole's samples ---------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("rate, frames, codec, acodec", [
    (R24, 50, "prores", "pcm_s24le"), (R30, 47, "prores", "pcm_s24le"), (R30, 47, "h264", "alac"),
    (R24, 110, "prores", "pcm_s24le"),            # longer than the clip: held picture, silence padded
])
def test_conform_makes_the_sound_exactly_the_holes_length(tmp_path, sounding, rate, frames, codec, acodec):
    from shotfill.media.conform import conform
    from shotfill.model import Codec, ConformTarget
    src = tmp_path / "src.mp4"
    src.write_bytes(sounding)
    target = ConformTarget(width=320, height=180, rate=rate, frames=frames, timecode="01:00:00:00",
                           codec=Codec(codec), audio=True)
    dst = tmp_path / f"out{Codec(codec).suffix}"
    conform(src, dst, target)
    assert_sound(dst, frames, rate, acodec)
    if rate == R24 and frames == 50:
        assert samples_for(frames, rate) == 2002 * 50
    # already exact: the shortcut keeps it as it is (a link), sound included
    again = tmp_path / f"again{Codec(codec).suffix}"
    conform(dst, again, target)
    assert_sound(again, frames, rate, acodec)
    # without audio asked, the same source comes out with no audio stream
    quiet = tmp_path / f"quiet{Codec(codec).suffix}"
    conform(dst, quiet, target.model_copy(update={"audio": False}))
    assert audio_stream(quiet) is None and decoded_frames(quiet) == frames


# --- placed under the clip, read back with OTIO's adapters -----------------------------------------


def _fill(args: list[str], capsys) -> None:
    code = main(args)
    io = capsys.readouterr()
    assert code == 0, io.out + io.err


@pytest.mark.slow
@pytest.mark.parametrize("rate, frames", [(R24, 30), (R30, 47)], ids=["23.976", "29.97"])
def test_otio_output_has_the_sound_on_an_audio_track_under_the_clip(tmp_path, monkeypatch, capsys, sounding,
                                                                      rate, frames):
    monkeypatch.setenv(KEY_ENV["openai"], KEY)
    src = otio_cut(tmp_path, rate, "a fox howls | audio=on", frames)
    with FakeOpenAI(b"", key=KEY) as fake:
        fake.video = fake.sounding_video = sounding
        out = tmp_path / "filled.otio"
        _fill(["fill", str(src), "--config", str(config(tmp_path, fake.url)), "--resolution", "320x180",
               "-o", str(out), "-q"], capsys)
    tl = otio.adapters.read_from_file(str(out))
    video = [c for c in tl.video_tracks()[0] if isinstance(c, otio.schema.Clip) and c.name.startswith("GEN")]
    assert len(video) == 1
    placed = gen_audio(tl)
    assert [(s, d) for s, d, _ in placed] == [(20, frames)]
    sound = placed[0][2]
    assert tl.audio_tracks()[0].name == "GEN audio"
    assert sound.media_reference.target_url == video[0].media_reference.target_url
    assert sound.source_range == video[0].source_range
    assert_sound(Path(otio.url_utils.filepath_from_url(sound.media_reference.target_url)), frames, rate)
    report = json.loads((tmp_path / "report.json").read_text())
    entry = report["placeholders"][0]
    assert entry["audio"] == {"asked": True, "present": True}


@pytest.mark.slow
def test_audio_is_off_by_default_and_outputs_stay_as_today(tmp_path, monkeypatch, capsys, sounding):
    monkeypatch.setenv(KEY_ENV["veo"], KEY)
    src = otio_cut(tmp_path, R24, "a fox howls", 30)
    with FakeVeo(b"", key=KEY) as fake:
        fake.video, fake.sounding_video = sounding, sounding     # even a clip with sound comes out silent
        out = tmp_path / "filled.otio"
        _fill(["fill", str(src), "--config", str(config(tmp_path, fake.url, "veo")), "--resolution", "320x180",
               "-o", str(out), "-q"], capsys)
        body = next(iter(fake.jobs.values()))["body"]
    assert body["parameters"]["generateAudio"] is False
    tl = otio.adapters.read_from_file(str(out))
    assert tl.audio_tracks() == [] and gen_audio(tl) == []
    media = Path(otio.url_utils.filepath_from_url(
        next(c for c in tl.find_clips() if c.name.startswith("GEN")).media_reference.target_url))
    assert audio_stream(media) is None and decoded_frames(media) == 30
    entry = json.loads((tmp_path / "report.json").read_text())["placeholders"][0]
    assert entry.get("audio") is None


@pytest.mark.slow
def test_veo_is_sent_generate_audio_and_its_sound_is_placed(tmp_path, monkeypatch, capsys, sounding):
    monkeypatch.setenv(KEY_ENV["veo"], KEY)
    src = otio_cut(tmp_path, R24, "surf on rocks", 30)
    with FakeVeo(b"", key=KEY) as fake:
        fake.video = fake.sounding_video = sounding
        out = tmp_path / "filled.otio"
        _fill(["fill", str(src), "--config", str(config(tmp_path, fake.url, "veo")), "--resolution", "320x180",
               "--audio", "-o", str(out), "-q"], capsys)
        body = next(iter(fake.jobs.values()))["body"]
    assert body["parameters"]["generateAudio"] is True
    placed = gen_audio(otio.adapters.read_from_file(str(out)))
    assert [(s, d) for s, d, _ in placed] == [(20, 30)]


def _fcpxml_doc() -> str:
    from test_fcpxml_splice import DOC
    return DOC.replace('value="GEN: a gull over the pier | seed=4"', 'value="GEN: a gull over the pier | seed=4 audio=on"')


@pytest.mark.slow
def test_fcpxml_output_carries_the_sound_under_the_clip_and_is_dtd_valid(tmp_path, monkeypatch, capsys, sounding):
    from fcpxml_dtd import dtd_valid
    monkeypatch.setenv(KEY_ENV["openai"], KEY)
    src = tmp_path / "cut.fcpxml"
    src.write_text(_fcpxml_doc())
    with FakeOpenAI(b"", key=KEY) as fake:
        fake.video = fake.sounding_video = sounding
        out = tmp_path / "filled.fcpxml"
        _fill(["fill", str(src), "--config", str(config(tmp_path, fake.url)), "-o", str(out), "-q"], capsys)
    ok, said = dtd_valid(out, tmp_path)
    assert ok, said
    root = ET.fromstring(out.read_text().encode())
    clip_el = root.find(".//asset-clip[@name='GEN gap_1']") or next(
        e for e in root.iter("asset-clip") if (e.get("name") or "").startswith("GEN") and e.find("clip") is not None)
    asset = root.find(f".//resources/asset[@id='{clip_el.get('ref')}']")
    assert (asset.get("hasAudio"), asset.get("audioSources"), asset.get("audioRate")) == ("1", "1", "48000")
    assert asset.get("audioChannels") == "1"
    assert clip_el.get("srcEnable") == "video"
    holder = clip_el.find("clip")
    sound = holder.find("audio")
    assert (holder.get("lane"), holder.get("offset"), holder.get("duration")) == (
        "-1", clip_el.get("start"), clip_el.get("duration"))
    assert (sound.get("ref"), sound.get("start"), sound.get("duration")) == (
        clip_el.get("ref"), clip_el.get("start"), clip_el.get("duration"))
    # the slug without audio=on stays silent
    others = [e for e in root.iter("asset-clip") if (e.get("name") or "").startswith("GEN") and e is not clip_el]
    assert others and all(e.find("clip") is None and e.get("srcEnable") is None for e in others)
    from shotfill.timeline.read import read_timeline
    tl = read_timeline(out).timeline                    # OTIO's FCPXML reader, as ShotFill reads with it
    placed = [(t.range_of_child(c).start_time.to_frames(), c.duration().to_frames())
              for t in tl.audio_tracks() for c in t if isinstance(c, otio.schema.Clip)]
    assert placed == [(24, 12)]
    v1 = tl.video_tracks()[0]                           # the picture once, the rest of V1 where it was
    assert [(c.name, v1.range_of_child(c).start_time.to_frames()) for c in v1][1:] == [
        ("GEN V1_01000100", 24), ("GEN V1_01000112", 36), ("b", 46)]
    media = Path(otio.url_utils.filepath_from_url(asset.find("media-rep").get("src")))
    assert_sound(media, 12, R24)


@pytest.mark.slow
@pytest.mark.parametrize("flag, rate, drop, start_tc", [("23.976", R24, False, "01:00:00:00"),
                                                         ("29.97", R30, True, "01:00:00;00")], ids=["23.976", "29.97DF"])
def test_edl_output_has_an_audio_event_for_the_sound(tmp_path, monkeypatch, capsys, sounding, flag, rate, drop,
                                                     start_tc):
    from test_fill_e2e import edl_text
    from shotfill.rates import timecode_to_frames
    monkeypatch.setenv(KEY_ENV["openai"], KEY)
    t = lambda f: tc(f, rate, drop)
    text = edl_text(rate, drop, start_tc, [
        ("TAPE1", ["* FROM CLIP NAME: one.mov"], 20),
        ("BL", ["* LOC: @REC PURPLE  GEN: breaking waves | audio=on"], 47),
        ("TAPE2", ["* FROM CLIP NAME: two.mov"], 20),
    ], t)
    src = tmp_path / "cut.edl"
    src.write_bytes(text.encode())
    with FakeOpenAI(b"", key=KEY) as fake:
        fake.video = fake.sounding_video = sounding
        out = tmp_path / "filled.edl"
        _fill(["fill", str(src), "--config", str(config(tmp_path, fake.url)), "--rate", flag,
               "--resolution", "320x180", "-o", str(out), "-q"], capsys)
    result = out.read_text()
    start = timecode_to_frames(start_tc, rate)
    rin, rout = t(start + 20), t(start + 67)
    event = next(line for line in result.splitlines() if line[5:].split()[1:2] == ["A"])
    assert event.split()[-2:] == [rin, rout] and event.split()[1] == "GEN00001"
    assert "* SHOTFILL " in result and " AUDIO: the sound of " in result
    tl = otio.adapters.read_from_string(result, adapter_name="cmx_3600", rate=float(rate))
    # OTIO's CMX reader starts each track at its first event's record time (source_range.start_time = -rec in)
    placed = [((t_.range_of_child(c).start_time - t_.source_range.start_time).to_frames(), c.duration().to_frames(), c)
              for t_ in tl.audio_tracks() for c in t_ if isinstance(c, otio.schema.Clip)]
    assert [(s, d) for s, d, _ in placed] == [(start + 20, 47)]
    media = Path(placed[0][2].media_reference.target_url.replace("file://", ""))
    assert_sound(media, 47, rate)


@pytest.mark.slow
def test_fcp7_xml_output_has_linked_audio_clipitems_on_a_new_audio_track(tmp_path, monkeypatch, capsys, sounding):
    from test_fcp7_splice import DOC
    monkeypatch.setenv(KEY_ENV["openai"], KEY)
    doc = (DOC.replace("<comment>seed=3</comment>", "<comment>seed=3 | audio=on</comment>")
              .replace("GEN: the harbour at night</name>", "GEN: the harbour at night | audio=on</name>"))
    assert doc.count("audio=on") == 2
    src = tmp_path / "cut.xml"
    src.write_bytes(doc.encode())
    with FakeOpenAI(b"", key=KEY) as fake:
        fake.video = fake.sounding_video = sounding
        out = tmp_path / "filled.xml"
        _fill(["fill", str(src), "--config", str(config(tmp_path, fake.url)), "-o", str(out), "-q"], capsys)
    text = out.read_bytes().decode()
    assert text.count("\r\n") == text.count("\n")                        # the editor's line endings kept
    root = ET.fromstring(text.encode())
    audio_tracks = root.findall("./sequence/media/audio/track")
    assert len(audio_tracks) == 2                                           # the editor's, then ShotFill's
    ours = audio_tracks[1].findall("clipitem")
    assert [(c.findtext("start"), c.findtext("end")) for c in ours] == [("30", "45"), ("45", "60")]
    video = {c.findtext("name"): c for c in root.iter("clipitem") if (c.findtext("name") or "").startswith("GEN")}
    for sound in ours:
        picture = video[sound.findtext("name").removesuffix(" audio")]
        fid = picture.find("file").get("id")
        assert sound.find("file").get("id") == fid and list(sound.find("file")) == []      # the same file, by id
        media = picture.find("file/media/audio")
        assert (media.findtext("samplecharacteristics/samplerate"), media.findtext("samplecharacteristics/depth"),
                media.findtext("channelcount")) == ("48000", "24", "1")
        assert (sound.findtext("in"), sound.findtext("out")) == (picture.findtext("in"), picture.findtext("out"))
    # the gap's new clipitem and its sound are linked to each other (the slug keeps its own link only)
    gap_pic = video[ours[1].findtext("name").removesuffix(" audio")]
    want = [(gap_pic.get("id"), "video", "1", "3"), (ours[1].get("id"), "audio", "2", "2")]
    for el in (gap_pic, ours[1]):
        assert [(lk.findtext("linkclipref"), lk.findtext("mediatype"), lk.findtext("trackindex"),
                 lk.findtext("clipindex")) for lk in el.findall("link")] == want
    slug_pic = video[ours[0].findtext("name").removesuffix(" audio")]
    assert [lk.findtext("linkclipref") for lk in slug_pic.findall("link")] == ["clipitem-2"]
    # read back with OTIO's FCP 7 XML adapter: the sound at the clips' record frames and lengths
    tl = otio.adapters.read_from_file(str(out), adapter_name="fcp_xml")
    tl = tl if isinstance(tl, otio.schema.Timeline) else next(iter(tl))
    placed = [(t.range_of_child(c).start_time.to_frames(), c.duration().to_frames())
              for t in tl.audio_tracks()[1:] for c in t if isinstance(c, otio.schema.Clip)]
    assert placed == [(30, 15), (45, 15)]
    for sound in ours:
        path = Path(otio.url_utils.filepath_from_url(video[sound.findtext("name").removesuffix(" audio")]
                                                     .findtext("file/pathurl").replace("file://localhost", "file://")))
        assert_sound(path, 15, R30)
