"""Guards: batch outputs that never overwrite each other; bad flags, settings and state files refused
up front with a clear message, exit 2 and nothing created."""

from __future__ import annotations

import sqlite3
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from fakes.openai import FakeOpenAI
from mediautil import mean_rgb
from shotfill.cli.app import main
from shotfill.cli.inputs import plan_outputs
from timelines import generated, holes_timeline

#: a gateway's /v1/videos model, declared as shotfill.toml must (the catalog ships none for openai)

KEY = "sk-guards-test-key"
R25 = Fraction(25)

EDL = """TITLE: cut
FCM: NON-DROP FRAME

001  BL       V     C        00:00:00:00 00:00:00:10 01:00:00:00 01:00:00:10
* FROM CLIP NAME: GEN: {prompt}
"""




def media_of(path: Path) -> list[Path]:
    return [Path(otio.url_utils.filepath_from_url(c.media_reference.target_url)) for c in generated(path)]


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


# ------------------------------------------------------------------ 3. batch outputs never clash


@pytest.mark.slow
def test_same_name_in_same_named_folders_gives_two_outputs(tmp_path, capsys):
    a = holes_timeline(tmp_path / "p" / "b" / "cut.otio", ["a fox"])
    b = holes_timeline(tmp_path / "q" / "b" / "cut.otio", ["a hare", "a crow"])
    out = tmp_path / "out"
    assert main(["fill", str(a), str(b), "-o", str(out), "--resolution", "320x180", "-q", "--no-report"]) == 0
    outputs = sorted(p.name for p in out.glob("*.otio"))
    assert outputs == ["p_b_cut.otio", "q_b_cut.otio"]
    assert len(generated(out / "p_b_cut.otio")) == 1 and len(generated(out / "q_b_cut.otio")) == 2


@pytest.mark.slow
def test_cut_edl_and_cut_otio_written_as_edl_give_two_outputs(tmp_path):
    src = tmp_path / "exports"
    src.mkdir()
    (src / "cut.edl").write_text(EDL.format(prompt="a fox"))
    holes_timeline(src / "cut.otio", ["a hare", "a crow"])
    out = tmp_path / "out"
    assert main(["fill", str(src), "-o", str(out), "--format", "edl", "--rate", "25",
                 "--resolution", "320x180", "-q", "--no-report"]) == 0
    names = sorted(p.name for p in out.glob("*.edl"))
    assert names == ["cut_edl.edl", "cut_otio.edl"]
    for name, events in (("cut_edl.edl", 1), ("cut_otio.edl", 2)):
        tl = otio.adapters.read_from_file(str(out / name), rate=25)
        assert len(list(tl.find_clips())) == events, name


def test_names_stay_distinct_whatever_clashes(tmp_path):
    def touch(rel: str) -> Path:
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("x")
        return p

    inputs = [touch("p/b/cut.edl"), touch("q/b/cut.edl"), touch("r/cut.edl"), touch("r/CUT.otio"),
              touch("r/cut.xml"), touch("s/b_cut.edl")]
    items = plan_outputs(inputs, tmp_path / "out", "edl")
    names = [i.output.name for i in items]
    assert len({n.casefold() for n in names}) == len(names), names
    assert all(i.output.parent == tmp_path / "out" and i.output.suffix == ".edl" for i in items)
    # no clash: the plain name, as before
    items = plan_outputs([touch("x/reel1.edl"), touch("x/reel2.edl")], tmp_path / "out")
    assert [i.output.name for i in items] == ["reel1.edl", "reel2.edl"]


@pytest.mark.slow
def test_look_alike_holes_in_one_media_folder_keep_their_own_fit(openai_fake, tmp_path):
    """Two timelines of the same name whose holes differ only in fit= make the same request, but
    their conformed files must not be one file."""
    a = holes_timeline(tmp_path / "p" / "cut.otio", ["a fox | fit=fit"])
    b = holes_timeline(tmp_path / "q" / "cut.otio", ["a fox | fit=fill"])
    out, media = tmp_path / "out", tmp_path / "media"
    assert main(["fill", str(a), str(b), "-o", str(out), "--media-dir", str(media), "--config",
                 str(openai_fake.config), "--resolution", "240x180", "-q", "--no-report"]) == 0
    [fit_media], [fill_media] = media_of(out / "p_cut.otio"), media_of(out / "q_cut.otio")
    assert fit_media != fill_media
    # the service's 16:9 clip letterboxed into 4:3: black bars above and below; filled: picture there
    top = (0, 0, 1, 0.06)
    assert max(mean_rgb(fit_media, 0, top)) < 20
    assert max(mean_rgb(fill_media, 0, top)) > 40


# ------------------------------------------------------------------ 8. guards and messages


@pytest.fixture
def one_hole(tmp_path):
    src = holes_timeline(tmp_path / "in" / "cut.otio", ["a fox"])
    return src, tmp_path / "out"


def made_nothing(out: Path) -> bool:
    return not out.exists()


@pytest.mark.parametrize("flags, says", [
    (["--max-cost", "nan"], "'nan' is not an amount"),
    (["--max-cost", "inf"], "'inf' is not an amount"),
    (["--max-cost", "-1"], "'-1' is not an amount"),
    (["--concurrency", "0"], "--concurrency: '0'"),
    (["--concurrency", "-2"], "--concurrency: '-2'"),
    (["--rate", "0.0001"], "'0.0001' is not a usable frame rate"),
    (["--provider", "sora"], "unknown provider 'sora'"),
])
def test_bad_flags_exit_2_and_create_nothing(one_hole, capsys, flags, says):
    src, out = one_hole
    code = main(["fill", str(src), "-o", str(out / "cut.otio"), "--resolution", "320x180", "-q", *flags])
    err = capsys.readouterr().err
    assert code == 2
    assert says in err and "Traceback" not in err
    assert made_nothing(out), tree(out)


@pytest.mark.parametrize("text, says", [
    ("[providers.openai]\ndurations = [0, -4]\n", "providers.openai.durations.0"),
    ("[providers.openai]\ndurations = []\n", "providers.openai.durations"),
    ("[providers.openai]\ntimeout = inf\n", "providers.openai.timeout: Input should be a finite number"),
    ("[providers.openai]\npoll_interval = nan\n", "providers.openai.poll_interval"),
    ("[providers.openai]\npoll_interval = 0\n", "providers.openai.poll_interval"),
    ("[providers.openai]\npoll_interval = -1\n", "providers.openai.poll_interval"),
    ("[providers.openai]\nprice_per_second = -0.1\n", "providers.openai.price_per_second"),
    ("[providers.openai]\nprice_per_second = inf\n", "providers.openai.price_per_second"),
    ('[providers.openai]\nbase_url = "not a url"\n', "'not a url' is not an http(s) URL"),
    ('[providers.openai]\nbase_url = "ftp://host/x"\n', "providers.openai.base_url"),
    ("providers = 5\n", "'providers' must be tables"),
    ("[providers]\nrunway = 5\n", "'providers' must be tables"),
    ('default_provider = "sora"\n', "default_provider: unknown provider 'sora'"),
    ("concurrency = 0\n", "concurrency"),
])
def test_bad_settings_exit_2_name_the_key_and_create_nothing(one_hole, capsys, text, says):
    src, out = one_hole
    cfg = src.parent / "shotfill.toml"
    cfg.write_text(text)
    code = main(["fill", str(src), "-o", str(out / "cut.otio"), "--config", str(cfg), "--resolution", "320x180",
                 "-q"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert says in err and str(cfg) in err and "Traceback" not in err
    assert made_nothing(out), tree(out)


def test_a_config_that_is_not_utf8_is_named_with_its_line(one_hole, capsys):
    src, out = one_hole
    cfg = src.parent / "shotfill.toml"
    cfg.write_bytes(b'default_provider = "local"\n[providers.runway]\nmodel = "caf\xe9"\n')
    assert main(["fill", str(src), "-o", str(out / "cut.otio"), "--config", str(cfg), "-q"]) == 2
    err = capsys.readouterr().err
    assert f"{cfg}: is not UTF-8 text (byte 0xe9 on line 3)" in err and "save the file as UTF-8" in err
    assert made_nothing(out)


def test_a_config_saved_with_a_byte_order_mark_is_read(tmp_path, capsys):
    cfg = tmp_path / "shotfill.toml"
    cfg.write_bytes(b'\xef\xbb\xbfdefault_provider = "openai"\n[providers.openai]\nprice_per_second = 0.25\n')
    assert main(["providers", "--config", str(cfg), "--json"]) == 0
    from shotfill.config import load_settings

    s = load_settings(cfg)
    assert s.default_provider == "openai" and s.provider("openai").price_per_second == 0.25


def test_a_bad_base_url_in_the_environment_is_named(one_hole, capsys, monkeypatch):
    src, out = one_hole
    monkeypatch.setenv("SHOTFILL_OPENAI_BASE_URL", "localhost:8000")
    assert main(["fill", str(src), "-o", str(out / "cut.otio"), "-q", "--resolution", "320x180"]) == 2
    err = capsys.readouterr().err
    assert "SHOTFILL_OPENAI_BASE_URL (environment): 'localhost:8000' is not an http(s) URL" in err
    assert made_nothing(out)


def damaged_header(path: Path) -> None:
    path.write_bytes(b"this is not a database, just text that happens to be here\n" * 40)


def damaged_pages(path: Path) -> None:
    """A real journal with rows, then bytes of its table's pages overwritten in place."""
    from shotfill.jobs.journal import Journal

    j = Journal(path)
    for i in range(200):
        j.submitting(f"{i:064x}", "openai", "sora-2", 0.4)
        j.submitted(f"{i:064x}", "openai", f"video_{i}", {"seconds": "4"})
    j.close()
    db = sqlite3.connect(str(path))
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 4 * page
    data[2 * page:3 * page] = b"\xa5" * page
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [damaged_header, damaged_pages])
def test_a_damaged_journal_is_named_kept_and_nothing_is_created(one_hole, capsys, damage):
    src, out = one_hole
    state = src.parent / "state"
    state.mkdir()
    journal = state / "journal.sqlite"
    damage(journal)
    before = journal.read_bytes()
    code = main(["fill", str(src), "-o", str(out / "cut.otio"), "--state-dir", str(state), "-q",
                 "--resolution", "320x180"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"{journal}: the job journal cannot be used" in err and "move it aside" in err
    assert "Traceback" not in err and "sqlite3." not in err
    assert journal.read_bytes() == before, "the journal is never repaired, replaced or emptied"
    assert made_nothing(out), tree(out)
    assert sorted(p.name for p in state.iterdir() if not p.name.startswith("journal.sqlite")) == []


# the service's poll hint, kept within reason
from provider_harness import ProviderHarness, fake_fixture, key_fixture, request_factory  # noqa: E402
from provider_harness import KEY as HARNESS_KEY  # noqa: E402
from shotfill.providers.openai import OpenAIProvider  # noqa: E402

fake = fake_fixture(FakeOpenAI, key=HARNESS_KEY)
key = key_fixture("openai")


class OpenAIHarness(ProviderHarness):
    provider_class = OpenAIProvider

    def __init__(self, fake, tmp_path, clock=None, **settings):
        settings.setdefault("models", {"sora-2": {"durations": [4, 8, 12], "first_frame": True}})
        super().__init__(fake, tmp_path, clock, **settings)


request = request_factory(placeholder_id="V1-0001", provider="openai", prompt="a fox", seed=7, width=1280,
                          height=720, rate="24", frames=96, timecode="01:00:10:00", request_hash="0e" * 32)


@pytest.mark.slow   # the finished job is downloaded and probed with ffprobe
@pytest.mark.parametrize("hint_ms, expected", [(0, 1.0), (-500, 1.0), (10**9, 300.0), (2500, 2.5)])
def test_a_poll_hint_is_obeyed_only_within_reason(fake, key, tmp_path, hint_ms, expected):
    fake.poll_after_ms = hint_ms
    h = OpenAIHarness(fake, tmp_path, poll_interval=5, timeout=10**5)
    h.run(request())
    assert h.sleeps and all(s == expected for s in h.sleeps), h.sleeps
