"""`shotfill fill --provider NAME` end to end against each service's fake, over real HTTP.

For every provider: both placeholders of a small cut are filled through the
real client; a moderated job fails only its own placeholder (exit 1, the
other placeholder still filled); and a planted API key appears nowhere: not
in stdout/stderr, the output timeline, the media, the journal or anything
else the run wrote.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import opentimelineio as otio
import pytest

from shotfill.cli.app import main
from shotfill.config import KEY_ENV

pytestmark = pytest.mark.slow          # real fills: ffmpeg conforms every clip

KEY = "sk-PLANTED-7f3a9c1e55d0"
ROOT = Path(__file__).resolve().parents[1]
COMFY_WORKFLOW = ROOT / "docs" / "providers" / "comfyui_example_workflow.json"
COMFY_INPUTS = {"prompt": "6.inputs.text", "negative": "7.inputs.text", "seed": "57.inputs.noise_seed",
                "frames": "67.inputs.length", "fps": "60.inputs.fps", "width": "67.inputs.width",
                "height": "67.inputs.height", "first_frame": "52.inputs.image", "last_frame": "72.inputs.image"}


@contextlib.contextmanager
def fake_for(name: str, video: bytes):
    """(the fake, a function that makes the next job fail with the service's moderation-like reason)."""
    if name == "openai":
        from fakes.openai import FakeOpenAI
        with FakeOpenAI(video, key=KEY) as f:
            yield f, f.fail_next_job
    elif name == "luma":
        from fakes.luma import FakeCDN, FakeLuma
        with FakeCDN(video) as cdn, FakeLuma(cdn, key=KEY) as f:
            yield f, f.fail_next_job
    elif name == "runway":
        from fakes.runway import FakeRunway
        with FakeRunway(video, key=KEY) as f:
            yield f, f.moderate_next
    elif name == "veo":
        from fakes.veo import FakeVeo
        with FakeVeo(video, key=KEY) as f:
            yield f, f.fail_next
    elif name == "fal":
        from fakes.fal import FakeCdn, FakeFal
        with FakeCdn(video) as cdn, FakeFal(video, key=KEY, cdn=cdn) as f:
            yield f, f.fail_next_job
    elif name == "replicate":
        from fakes.replicate import FakeReplicate
        from fakes.fal import FakeCdn
        with FakeCdn(video) as cdn, FakeReplicate(video, key=KEY, cdn=cdn) as f:
            yield f, f.fail_next_job
    elif name == "comfyui":
        from fakes.comfyui import FakeComfyUI
        with FakeComfyUI(video) as f:
            yield f, f.fail_next_job
    else:  # pragma: no cover
        raise AssertionError(name)


def write_config(tmp_path: Path, name: str, url: str) -> Path:
    lines = [f'default_provider = "{name}"', f"[providers.{name}]", f'base_url = "{url}"',
             "poll_interval = 0.01", "timeout = 60", "price_per_second = 0.1"]
    if name == "veo":               # Vertex AI: the project the models run in
        lines.append('project = "shotfill-test"')
    if name == "openai":            # a gateway's model: the catalog ships none for /v1/videos
        lines += ['[providers.openai.models."sora-2"]', "durations = [4, 8, 12]", "first_frame = true"]
    if name == "comfyui":
        lines.append(f'workflow = "{COMFY_WORKFLOW}"')
        lines.append("[providers.comfyui.inputs]")
        lines += [f'{k} = "{v}"' for k, v in COMFY_INPUTS.items()]
    cfg = tmp_path / "shotfill.toml"
    cfg.write_text("\n".join(lines) + "\n")
    return cfg


def everything_written(*roots: Path) -> list[Path]:
    return [p for r in roots if r.exists() for p in ([r] if r.is_file() else r.rglob("*")) if p.is_file()]


PROVIDERS = ["openai", "luma", "runway", "veo", "fal", "replicate", "comfyui"]


@pytest.mark.parametrize("name", PROVIDERS)
def test_fill_with_each_provider_against_its_fake(name, tmp_path, monkeypatch, capsys, small_video):
    from test_fill_e2e import R24, counter_clip, clip, gap, marker, slug

    if KEY_ENV.get(name):
        monkeypatch.setenv(KEY_ENV[name], KEY)
    counter_clip(tmp_path, "a.mov", R24)
    counter_clip(tmp_path, "b.mov", R24)
    tl = otio.schema.Timeline(name="cut", global_start_time=otio.opentime.RationalTime(86400, float(R24)))
    v1 = otio.schema.Track(name="V1", kind="Video")
    v1.append(clip("a", 20, R24, src=10, url="a.mov", avail=(0, 40)))
    v1.append(gap(12, R24, marker("GEN: a fox in snow | seed=5", 0, 12, R24)))
    v1.append(clip("b", 20, R24, src=4, url="b.mov", avail=(0, 40)))
    v2 = otio.schema.Track(name="V2", kind="Video")
    v2.append(gap(30, R24))
    v2.append(slug("GEN: lower third, white text", 8, R24))
    tl.tracks.append(v1)
    tl.tracks.append(v2)
    src = tmp_path / "cut.otio"
    otio.adapters.write_to_file(tl, str(src))

    with fake_for(name, small_video) as (fake, fail_next):
        cfg = write_config(tmp_path, name, fake.url + ("/dream-machine/v1" if name == "luma" else ""))
        out = tmp_path / "ok" / "filled.otio"
        code = main(["fill", str(src), "-o", str(out), "--config", str(cfg), "--provider", name])
        io1 = capsys.readouterr()
        assert code == 0, io1.err
        back = otio.adapters.read_from_file(str(out))
        gens = [c for c in back.find_clips() if "shotfill" in c.metadata]
        assert len(gens) == 2
        assert {c.metadata["shotfill"]["provider"] for c in gens} == {name}
        assert all(c.metadata["shotfill"]["job_id"] for c in gens)
        assert sum(1 for r in fake.requests if r.method == "POST" and "upload" not in r.path
                   and "files" not in r.path and "fetchPredictOperation" not in r.path) == 2   # Veo polls by POST

        # a moderated job fails only its own placeholder
        fail_next()
        out2 = tmp_path / "one_fails" / "filled.otio"
        code = main(["fill", str(src), "-o", str(out2), "--config", str(cfg), "--provider", name, "-q"])
        io2 = capsys.readouterr()
        assert code == 1, io2.out + io2.err
        assert io2.out.count("FAILED") == 1
        back2 = otio.adapters.read_from_file(str(out2))
        assert len([c for c in back2.find_clips() if "shotfill" in c.metadata]) == 1

        # dry run: the request bodies, no key, nothing sent
        before = len(fake.requests)
        assert main(["fill", str(src), "-o", str(tmp_path / "dry" / "x.otio"), "--config", str(cfg),
                     "--provider", name, "--dry-run", "--json"]) == 0
        io3 = capsys.readouterr()
        dry = json.loads(io3.out)
        assert len(dry["placeholders"]) == 2 and dry["estimated_total"] > 0
        assert len(fake.requests) == before

    # the planted key is nowhere the tool wrote or printed
    for text in (io1.out, io1.err, io2.out, io2.err, io3.out, io3.err):
        assert KEY not in text
    for path in everything_written(tmp_path / "ok", tmp_path / "one_fails", tmp_path / "dry"):
        assert KEY.encode() not in path.read_bytes(), path
