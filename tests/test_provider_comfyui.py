"""ComfyUI client against a fake ComfyUI server on real sockets: templating, uploads, polling, failures."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import uuid
from fractions import Fraction
from pathlib import Path

import httpx
import pytest

from fakes.comfyui import FakeComfyUI, validate_prompt
from mediautil import make_png
from provider_harness import ProviderHarness, fake_fixture, request_factory
from shotfill.config import ComfyInputs, load_settings
from shotfill.errors import ConfigError, DownloadError, JobFailed, Rejected, SubmitUncertain
from shotfill.jobs.journal import Journal
from shotfill.providers.base import ProviderContext
from shotfill.providers.comfyui import ComfyUIProvider, OutputFile, pick_output

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "docs" / "providers" / "comfyui_example_workflow.json"
DOC = ROOT / "docs" / "providers" / "comfyui.md"
MAPPING = {"prompt": "6.inputs.text", "negative": "7.inputs.text", "seed": "57.inputs.noise_seed",
           "frames": "67.inputs.length", "fps": "60.inputs.fps", "width": "67.inputs.width",
           "height": "67.inputs.height", "first_frame": "52.inputs.image", "last_frame": "72.inputs.image"}
HASH = "c0ffee" * 10 + "abcd"


fake = fake_fixture(FakeComfyUI)


class Rig(ProviderHarness):
    """The provider running the example workflow (or ``workflow``) with MAPPING (or ``inputs``)."""

    provider_class = ComfyUIProvider

    def __init__(self, fake: FakeComfyUI, tmp_path: Path, *, workflow: Path = EXAMPLE, inputs=None,
                 **settings) -> None:
        super().__init__(fake, tmp_path, workflow=workflow,
                         inputs=ComfyInputs(**(MAPPING if inputs is None else inputs)), **settings)


request = request_factory(placeholder_id="p1", provider="comfyui", prompt="a lighthouse at dusk, slow dolly in",
                          negative="blurry", seed=1234, width=1920, height=1080, rate=Fraction(24), frames=50,
                          timecode="01:00:10:00", request_hash=HASH)


def workflow_copy(tmp_path: Path, change) -> Path:
    wf = json.loads(EXAMPLE.read_text())
    change(wf)
    path = tmp_path / "wf.json"
    path.write_text(json.dumps(wf))
    return path


def prompts(fake: FakeComfyUI) -> list[dict]:
    return [r.json for r in fake.requests if r.key == "POST /prompt"]


# -- the happy paths -----------------------------------------------------------------------

@pytest.mark.slow
def test_text_only_run_templates_the_workflow_and_downloads_the_video(fake, tmp_path, small_video):
    rig = Rig(fake, tmp_path)
    media = rig.run(request())

    [body] = prompts(fake)
    wf = body["prompt"]
    assert set(body) == {"prompt", "client_id"}
    assert uuid.UUID(body["client_id"]).version == 4
    assert wf["6"]["inputs"]["text"] == "a lighthouse at dusk, slow dolly in"
    assert wf["7"]["inputs"]["text"] == "blurry"
    assert wf["57"]["inputs"]["noise_seed"] == 1234 and type(wf["57"]["inputs"]["noise_seed"]) is int
    assert wf["67"]["inputs"]["length"] == 50
    assert wf["60"]["inputs"]["fps"] == 24.0 and type(wf["60"]["inputs"]["fps"]) is float
    assert (wf["67"]["inputs"]["width"], wf["67"]["inputs"]["height"]) == (1920, 1088)
    # no neighbours: the LoadImage nodes keep the workflow's own image, nothing is uploaded
    assert wf["52"]["inputs"]["image"] == wf["72"]["inputs"]["image"] == "example.png"
    assert fake.count("POST /upload/image") == 0
    # untouched parts of the graph are sent as saved
    assert wf["58"] == json.loads(EXAMPLE.read_text())["58"]
    post = next(r for r in fake.requests if r.key == "POST /prompt")
    assert "authorization" not in post.headers and "origin" not in post.headers

    [pid] = list(fake.jobs)
    assert media.job_id == pid and media.provider == "comfyui" and media.model == "comfyui_example_workflow"
    assert Path(media.path).read_bytes() == small_video and media.path.endswith(".mp4")
    view = next(r for r in fake.requests if r.path == "/view")
    assert view.query == {"filename": ["ComfyUI_00001_.mp4"], "subfolder": ["video"], "type": ["output"]}
    # the journal at each poll: test_provider_contract
    assert rig.journal.get(HASH).state == "downloaded"
    assert ("submitted", pid) in rig.events
    assert ("progress", "queued") in rig.events and ("progress", "running") in rig.events


@pytest.mark.slow
@pytest.mark.parametrize("size,max_side,want", [((1920, 1080), None, (1920, 1088)),
                                                ((1080, 1920), None, (1088, 1920)),
                                                ((1920, 1080), 1280, (1280, 720)),
                                                ((1080, 1920), 1280, (720, 1280)),
                                                ((2048, 858), 832, (832, 352))])
def test_size_is_the_timeline_size_fitted_and_rounded_to_16(fake, tmp_path, size, max_side, want):
    rig = Rig(fake, tmp_path, extra={"max_side": max_side} if max_side else None)
    rig.run(request(width=size[0], height=size[1]))
    wf = prompts(fake)[0]["prompt"]
    assert (wf["67"]["inputs"]["width"], wf["67"]["inputs"]["height"]) == want
    assert rig.provider.plan(request(width=size[0], height=size[1])).size_label == f"{want[0]}x{want[1]}"


@pytest.mark.slow
def test_config_size_and_extra_inputs_are_sent_as_given(fake, tmp_path):
    rig = Rig(fake, tmp_path, extra={"width": 832, "height": 480, "57.inputs.steps": 8, "58.inputs.steps": 8,
                                     "57.inputs.end_at_step": 4, "58.inputs.start_at_step": 4})
    rig.run(request(rate=Fraction(24000, 1001), frames=37))
    wf = prompts(fake)[0]["prompt"]
    assert (wf["67"]["inputs"]["width"], wf["67"]["inputs"]["height"]) == (832, 480)
    assert wf["57"]["inputs"]["steps"] == wf["58"]["inputs"]["steps"] == 8
    assert (wf["57"]["inputs"]["end_at_step"], wf["58"]["inputs"]["start_at_step"]) == (4, 4)
    assert wf["67"]["inputs"]["length"] == 37
    assert wf["60"]["inputs"]["fps"] == pytest.approx(24000 / 1001, abs=1e-9)


@pytest.mark.slow
def test_neighbour_frames_are_uploaded_to_the_same_server_and_named_in_the_loadimage_nodes(fake, tmp_path):
    first = make_png(tmp_path / "before.png", 64, 36, "red")
    last = make_png(tmp_path / "after.png", 64, 36, "blue")
    rig = Rig(fake, tmp_path)
    plan = rig.provider.plan(request(first_frame=str(first), last_frame=str(last)))
    assert plan.use_first and plan.use_last
    rig.run(request(first_frame=str(first), last_frame=str(last)))

    uploads = [r for r in fake.requests if r.key == "POST /upload/image"]
    assert len(uploads) == 2
    for rec, src, which in ((uploads[0], first, "first"), (uploads[1], last, "last")):
        assert rec.headers["content-type"].startswith("multipart/form-data")
        body = rec.body
        assert f'filename="shotfill_{HASH[:16]}_{which}.png"'.encode() in body
        assert b'name="type"\r\n\r\ninput' in body and b'name="overwrite"\r\n\r\ntrue' in body
        assert fake.files[("input", "", f"shotfill_{HASH[:16]}_{which}.png")] == src.read_bytes()
    wf = prompts(fake)[0]["prompt"]
    assert wf["52"]["inputs"]["image"] == f"shotfill_{HASH[:16]}_first.png"
    assert wf["72"]["inputs"]["image"] == f"shotfill_{HASH[:16]}_last.png"
    # uploads come before the prompt that names them
    keys = [r.key for r in fake.requests]
    assert keys.index("POST /prompt") > max(i for i, k in enumerate(keys) if k == "POST /upload/image")


@pytest.mark.slow
def test_unmapped_neighbours_and_negative_are_not_sent_and_the_plan_says_so(fake, tmp_path):
    first = make_png(tmp_path / "before.png", 64, 36, "red")
    inputs = {k: v for k, v in MAPPING.items() if k not in ("first_frame", "last_frame", "negative")}
    rig = Rig(fake, tmp_path, inputs=inputs)
    req = request(first_frame=str(first), last_frame=str(first))
    plan = rig.provider.plan(req)
    assert (plan.use_first, plan.use_last, plan.negative) == (False, False, None)
    assert any("shot before is not used" in n for n in plan.notes)
    assert any("negative prompt not sent" in n for n in plan.notes)
    rig.run(req)
    assert fake.count("POST /upload/image") == 0
    assert prompts(fake)[0]["prompt"]["7"]["inputs"]["text"].startswith("blurry, low quality")


@pytest.mark.slow
@pytest.mark.parametrize("style,suffix", [("vhs", ".mp4"), ("videos", ".webm"), ("gif", ".gif")])
def test_video_outputs_of_each_node_kind_are_found_and_downloaded(fake, tmp_path, small_video, style, suffix):
    fake.output_style = style
    media = Rig(fake, tmp_path).run(request())
    assert Path(media.path).suffix == suffix
    assert Path(media.path).read_bytes() == small_video


def test_pick_output_prefers_saved_video_over_gif_previews_and_stills():
    outputs = {
        "9": {"images": [{"filename": "still.png", "subfolder": "", "type": "output"}]},
        "10": {"gifs": [{"filename": "prev.mp4", "subfolder": "", "type": "temp", "format": "video/h264-mp4"}]},
        "11": {"images": [{"filename": "anim.gif", "subfolder": "", "type": "output"}], "animated": [True]},
        "12": {"gifs": [{"filename": "final.mp4", "subfolder": "x", "type": "output", "format": "video/h264-mp4"}]},
    }
    assert pick_output(outputs) == OutputFile(filename="final.mp4", subfolder="x", type="output",
                                              format="video/h264-mp4")
    assert pick_output({k: outputs[k] for k in ("9", "11")}).filename == "anim.gif"
    assert pick_output({k: outputs[k] for k in ("9", "10", "11")}).filename == "prev.mp4"
    assert pick_output({"9": outputs["9"]}) is None


@pytest.mark.slow
def test_a_long_gap_is_not_refused_and_costs_what_the_config_says(fake, tmp_path):
    rig = Rig(fake, tmp_path, price_per_second=0.01)
    plan = rig.provider.plan(request(frames=24 * 60 + 12))
    assert plan.refused is None and plan.seconds == pytest.approx(60.5)
    assert plan.estimated_cost == pytest.approx(0.605)
    assert Rig(fake, tmp_path).provider.plan(request(frames=48)).estimated_cost == 0.0
    rig.run(request(frames=24 * 60 + 12))
    assert prompts(fake)[0]["prompt"]["67"]["inputs"]["length"] == 1452


@pytest.mark.slow
def test_queue_position_is_reported_while_queued(fake, tmp_path):
    fake.add_foreign_job()
    fake.add_foreign_job()
    rig = Rig(fake, tmp_path)
    statuses = []
    poll = rig.provider.poll

    async def recording(http, handle):
        st = await poll(http, handle)
        statuses.append(st)
        return st

    rig.provider.poll = recording
    rig.run(request())
    assert [s.state for s in statuses] == ["queued", "running", "succeeded"]
    assert statuses[0].data == {"ahead": 2}


# -- failures ------------------------------------------------------------------------------

@pytest.mark.slow
def test_reset_submit_of_a_queued_prompt_is_recovered_by_client_id(fake, tmp_path, small_video):
    foreign = fake.add_foreign_job()
    fake.accept_then_reset_next_prompt()
    rig = Rig(fake, tmp_path)
    media = rig.run(request())
    [body] = prompts(fake)
    [mine] = [pid for pid, j in fake.jobs.items() if j["extra_data"].get("client_id") == body["client_id"]]
    assert media.job_id == mine != foreign
    assert ("recovered", mine) in rig.events
    assert fake.count("POST /prompt") == 1
    assert Path(media.path).read_bytes() == small_video
    assert rig.journal.get(HASH).job_id == mine


@pytest.mark.slow
def test_a_later_run_finds_a_lost_prompt_by_the_client_id_its_request_gives(fake, tmp_path, small_video):
    fake.accept_then_reset_next_prompt()
    fake.fail("GET /queue", status=500, body="busy", times=4)      # this run cannot look it up
    first = Rig(fake, tmp_path)
    with pytest.raises(SubmitUncertain):
        first.run(request())
    record = first.journal.get(HASH)
    assert record.state == "uncertain"
    first.journal.close()

    later = Rig(fake, tmp_path)                                    # a new process knows no client id
    media = asyncio.run(later.provider.find_lost(request(), later.workdir, record))
    assert media is not None and fake.count("POST /prompt") == 1
    assert Path(media.path).read_bytes() == small_video


@pytest.mark.slow
def test_reset_submit_of_a_prompt_that_already_finished_is_found_in_history(fake, tmp_path):
    fake.next_job_steps(["done"])
    fake.accept_then_reset_next_prompt()
    rig = Rig(fake, tmp_path)
    media = rig.run(request())
    hist = next(r for r in fake.requests if r.key == "GET /history")
    assert hist.query == {"max_items": ["256"]}
    assert media.job_id == list(fake.jobs)[0] and fake.count("POST /prompt") == 1


def test_interrupted_prompt_is_job_failed(fake, tmp_path):
    fake.interrupt_next_job()
    with pytest.raises(JobFailed, match="interrupted in node 57"):
        Rig(fake, tmp_path).run(request())


def test_a_workflow_that_saves_no_video_fails_clearly(fake, tmp_path):
    fake.output_style = "png"
    with pytest.raises(JobFailed, match=r"saved no video \(files: ComfyUI_00001_.png\)"):
        Rig(fake, tmp_path).run(request())


def test_a_prompt_that_vanished_from_queue_and_history_fails_after_three_polls(fake, tmp_path):
    fake.on_history_poll = lambda pid: fake.forget_jobs()
    with pytest.raises(JobFailed, match="neither queued, running nor in its history"):
        Rig(fake, tmp_path).run(request())
    assert fake.count("GET /queue") == 3


@pytest.mark.parametrize("change,expected", [
    (lambda wf: wf["37"]["inputs"].update(unet_name="wan2.2_missing.safetensors"),
     ["Prompt outputs failed validation", "node 37 (UNETLoader): Value not in list: "
      "unet_name: 'wan2.2_missing.safetensors' not in"]),
    (lambda wf: wf["58"]["inputs"].pop("steps"),
     ["node 58 (KSamplerAdvanced): Required input is missing: steps"]),
    (lambda wf: wf["52"]["inputs"].update(image="start.png"),
     ["node 52 (LoadImage): Custom validation failed for node: image - Invalid image file: start.png"]),
    (lambda wf: wf["61"].update(class_type="VHS_NotInstalled"),
     ["Cannot execute because node VHS_NotInstalled does not exist. (Node ID '#61')"]),
])
def test_validation_400_is_rejected_listing_comfyuis_node_errors(fake, tmp_path, change, expected):
    rig = Rig(fake, tmp_path, workflow=workflow_copy(tmp_path, change))
    with pytest.raises(Rejected) as ei:
        rig.run(request())
    for text in expected:
        assert text in str(ei.value)
    assert fake.count("POST /prompt") == 1 and fake.jobs == {}
    assert rig.journal.get(HASH).state == "failed"


def test_out_of_range_value_is_rejected_by_the_server(fake, tmp_path):
    with pytest.raises(Rejected, match=r"node 60 \(CreateVideo\): Value 240.0 bigger than max of 120.0: fps"):
        Rig(fake, tmp_path).run(request(rate=Fraction(240)))


def test_deleted_gif_output_says_it_is_gone_from_the_server(fake, tmp_path):
    fake.output_style = "gif"
    fake.expire_downloads()
    with pytest.raises(DownloadError, match=r"gone from the server \(HTTP 404\)") as info:
        Rig(fake, tmp_path).run(request())
    assert info.value.expired and "output folder" in info.value.hint


def test_a_configured_key_goes_only_as_bearer(fake, tmp_path):
    """Without one no authorization header is sent (see the first test); that it never leaks is
    in test_provider_contract."""
    fake.fail_next_job("boom")
    rig = Rig(fake, tmp_path, api_key="test-secret-key")
    with pytest.raises(JobFailed):
        rig.run(request())
    assert fake.requests and all(r.headers.get("authorization") == "Bearer test-secret-key" for r in fake.requests)


# -- configuration -------------------------------------------------------------------------

def test_ui_format_workflow_is_a_config_error_before_any_request(fake, tmp_path):
    ui = tmp_path / "ui.json"
    ui.write_text(json.dumps({"last_node_id": 9, "nodes": [{"id": 6, "type": "CLIPTextEncode"}], "links": [],
                              "version": 0.4}))
    with pytest.raises(ConfigError, match=r"UI-format workflow[\s\S]*Save \(API Format\)"):
        Rig(fake, tmp_path, workflow=ui).run(request())
    assert fake.requests == []


@pytest.mark.parametrize("key,path,expected", [
    ("seed", "99.inputs.seed", r"inputs\.seed = '99\.inputs\.seed': the workflow wf\.json has no node '99'"),
    ("seed", "57.inputs.seed", r"inputs\.seed = '57\.inputs\.seed': node '57' \(KSamplerAdvanced\) in wf\.json "
                               r"has no input 'seed'[\s\S]*noise_seed"),
    ("prompt", "67.inputs.positive", r"inputs\.prompt = .*is a link from node '6', not a value"),
])
def test_an_input_path_that_does_not_fit_the_workflow_is_a_config_error(fake, tmp_path, key, path, expected):
    wf = workflow_copy(tmp_path, lambda wf: None)
    with pytest.raises(ConfigError, match=expected):
        Rig(fake, tmp_path, workflow=wf, inputs={**MAPPING, key: path}).run(request())
    assert fake.requests == []


def test_missing_workflow_and_bad_extra_are_config_errors(fake, tmp_path):
    with pytest.raises(ConfigError, match="has no `workflow`"):
        Rig(fake, tmp_path, workflow=None).provider.plan(request())
    with pytest.raises(ConfigError, match="cannot be read"):
        Rig(fake, tmp_path, workflow=tmp_path / "nope.json").provider.plan(request())
    with pytest.raises(ConfigError, match=r"extra\] 'steps': unknown key"):
        Rig(fake, tmp_path, extra={"steps": 8}).provider.plan(request())
    with pytest.raises(ConfigError, match="both width and height"):
        Rig(fake, tmp_path, extra={"width": 832}).provider.plan(request())
    with pytest.raises(ConfigError, match="has no node '3'"):
        Rig(fake, tmp_path, extra={"3.inputs.steps": 8}).provider.plan(request())
    assert fake.requests == []


@pytest.mark.slow
def test_the_documented_toml_and_example_workflow_run_end_to_end(fake, tmp_path, monkeypatch, small_video):
    toml = re.search(r"```toml\n(.*?)```", DOC.read_text(), re.S).group(1)
    (tmp_path / "shotfill.toml").write_text(toml)
    shutil.copy(EXAMPLE, tmp_path / "comfyui_example_workflow.json")
    monkeypatch.setenv("SHOTFILL_COMFYUI_BASE_URL", fake.url)
    settings = load_settings(tmp_path / "shotfill.toml")
    ctx = ProviderContext(settings=settings, journal=Journal(tmp_path / "j.sqlite"), sleep=_nosleep)
    provider = ComfyUIProvider(ctx)
    first = make_png(tmp_path / "a.png", 32, 18, "green")
    req = request(first_frame=str(first), last_frame=str(first))
    preview = provider.request_preview(req)
    assert preview.plan.model == "wan2.2-flf2v-14b" and preview.plan.size_label == "1280x720"
    ok, err, _, _ = validate_prompt(preview.body["prompt"], lambda name: True)
    assert ok, err
    media = asyncio.run(provider.generate(req, tmp_path / "w"))
    assert Path(media.path).read_bytes() == small_video and media.model == "wan2.2-flf2v-14b"


async def _nosleep(s: float) -> None:
    pass


# -- the fake itself: ComfyUI's refusals ---------------------------------------------------

def test_fake_view_and_upload_refuse_path_traversal_like_comfyui(fake):
    with httpx.Client(base_url=fake.url) as c:
        assert c.get("/view", params={"filename": "../secret.txt"}).status_code == 400
        assert c.get("/view", params={"filename": "/etc/passwd"}).status_code == 400
        assert c.get("/view", params={"filename": "example.png", "type": "input",
                                      "subfolder": "../../etc"}).status_code == 403
        assert c.get("/view", params={"filename": "example.png", "type": "secrets"}).status_code == 400
        assert c.get("/view", params={"filename": "nope.mp4"}).status_code == 404
        assert c.get("/api/view", params={"filename": "example.png", "type": "input"}).content == b"\x89PNG example"
        bad = c.post("/upload/image", files={"image": ("x.png", b"1", "image/png")}, data={"subfolder": "../.."})
        assert bad.status_code == 400
        one = c.post("/upload/image", files={"image": ("x.png", b"1", "image/png")}).json()
        two = c.post("/upload/image", files={"image": ("x.png", b"2", "image/png")}).json()
        same = c.post("/upload/image", files={"image": ("x.png", b"1", "image/png")}).json()
        over = c.post("/upload/image", files={"image": ("x.png", b"3", "image/png")},
                      data={"overwrite": "true"}).json()
        assert (one["name"], two["name"], same["name"], over["name"]) == ("x.png", "x (1).png", "x.png", "x.png")
        assert one == {"name": "x.png", "subfolder": "", "type": "input"}
        assert c.post("/prompt", json={"client_id": "x"}).json()["error"]["type"] == "no_prompt"
        assert c.get("/queue").json() == {"queue_running": [], "queue_pending": []}
        assert c.get("/history/unknown").json() == {}
