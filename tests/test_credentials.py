"""C2PA content credentials on placed media, read back with c2pa-python's own Reader.

A throwaway CA is made with openssl in each session (EC P-256 leaf, keyUsage
digitalSignature, extendedKeyUsage emailProtection): the manifests validate
but for ``signingCredential.untrusted`` (the CA is in no trust list).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import opentimelineio as otio
import pytest

c2pa = pytest.importorskip("c2pa")

from mediautil import decoded_frames, make_test_clip, video_stream  # noqa: E402
from shotfill.cli.app import main  # noqa: E402
from shotfill.config import C2paSettings  # noqa: E402
from shotfill.errors import ConfigError  # noqa: E402
from shotfill.media.credentials import ALGORITHMIC, TRAINED, Claim, Signing, active_manifest  # noqa: E402
from shotfill.system import secrets  # noqa: E402
from timelines import clip, gap, marker, slug  # noqa: E402

pytestmark = pytest.mark.slow          # openssl, ffmpeg and real fills
OPENAI_KEY = "sk-PLANTED-c2pa-4e1d9a"


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(d: Path, name: str = "ShotFill Test") -> tuple[Path, Path]:
    """(chain.pem leaf first, leaf.key PKCS#8): a test CA and an EC P-256 leaf signed by it."""
    d.mkdir(parents=True, exist_ok=True)
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.raw", cwd=d)
    _openssl("pkcs8", "-topk8", "-nocrypt", "-in", "ca.raw", "-out", "ca.key", cwd=d)
    _openssl("req", "-x509", "-new", "-key", "ca.key", "-sha256", "-days", "30", "-subj", f"/CN={name} CA/O=Test",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             "-out", "ca.pem", cwd=d)
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "leaf.raw", cwd=d)
    _openssl("pkcs8", "-topk8", "-nocrypt", "-in", "leaf.raw", "-out", "leaf.key", cwd=d)
    _openssl("req", "-new", "-key", "leaf.key", "-subj", f"/CN={name} Signer/O=Test", "-out", "leaf.csr", cwd=d)
    (d / "leaf.ext").write_text("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                                "extendedKeyUsage=emailProtection\nsubjectKeyIdentifier=hash\n"
                                "authorityKeyIdentifier=keyid\n")
    _openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "30",
             "-sha256", "-extfile", "leaf.ext", "-out", "leaf.pem", cwd=d)
    (d / "chain.pem").write_bytes((d / "leaf.pem").read_bytes() + (d / "ca.pem").read_bytes())
    return d / "chain.pem", d / "leaf.key"


@pytest.fixture(scope="module")
def ca(tmp_path_factory) -> tuple[Path, Path]:
    from slow_guard import allow_spawns
    with allow_spawns():
        return make_ca(tmp_path_factory.mktemp("ca"))


def write_config(path: Path, ca: tuple[Path, Path], *extra: str) -> Path:
    chain, key = ca
    path.write_text("\n".join([*extra, "[c2pa]", f'sign_cert = "{chain}"', f'private_key = "{key}"']) + "\n")
    return path


def cut(tmp_path: Path) -> Path:
    """V1 a | gap (GEN, 12 frames) | b ; V2 gap | slug named GEN: (8 frames), at 24000/1001."""
    from test_fill_e2e import R24, counter_clip
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
    return src


def generated(out: Path) -> list[otio.schema.Clip]:
    return [c for c in otio.adapters.read_from_file(str(out)).find_clips() if "shotfill" in c.metadata]


def media_of(c: otio.schema.Clip) -> Path:
    return Path(otio.url_utils.filepath_from_url(c.media_reference.target_url))


def read_store(path: Path) -> dict:
    with c2pa.Reader(str(path)) as reader:
        return json.loads(reader.json())


def created_action(manifest: dict) -> dict:
    actions = [a for a in manifest["assertions"] if a["label"].startswith("c2pa.actions")]
    assert len(actions) == 1
    (action,) = actions[0]["data"]["actions"]
    assert action["action"] == "c2pa.created"
    return action


def failures(store: dict) -> list[str]:
    """Validation codes other than the test CA being untrusted."""
    return [v["code"] for v in store.get("validation_status", []) if v["code"] != "signingCredential.untrusted"]


@pytest.mark.parametrize("codec,suffix,codec_name", [("prores", ".mov", "prores"), ("h264", ".mp4", "h264")])
def test_every_placed_file_is_signed_and_keeps_its_frames(tmp_path, ca, codec, suffix, codec_name):
    src = cut(tmp_path)
    cfg = write_config(tmp_path / "shotfill.toml", ca)
    out = tmp_path / "out" / "filled.otio"
    assert main(["fill", str(src), "-o", str(out), "--config", str(cfg), "--codec", codec, "-q", "--no-report"]) == 0
    gens = generated(out)
    assert len(gens) == 2
    for c in gens:
        path = media_of(c)
        assert path.suffix == suffix
        md = c.metadata["shotfill"]
        frames = c.source_range.duration.to_frames()
        # still exactly the placeholder's frames, and still the codec conform wrote
        assert decoded_frames(path) == frames
        assert video_stream(path)["codec_name"] == codec_name
        store = read_store(path)
        assert failures(store) == [], store.get("validation_status")
        manifest = store["manifests"][store["active_manifest"]]
        assert manifest["claim_generator_info"][0]["name"] == "ShotFill"
        action = created_action(manifest)
        assert action["digitalSourceType"] == ALGORITHMIC      # the offline generator runs no trained model
        params = action["parameters"]
        assert params["provider"] == "local" and params["model"] == md["model"]
        assert params["seed"] == md["seed"] and params["request_hash"] == md["request_hash"]
        assert params["prompt"] == md["prompt"]
        assert manifest.get("ingredients", []) == []            # the offline original carries no manifest
    assert not [p for p in (tmp_path / "out").rglob("*") if ".part" in p.name]


def test_include_prompt_false_leaves_the_prompt_out(tmp_path, ca):
    src = cut(tmp_path)
    cfg = write_config(tmp_path / "shotfill.toml", ca)
    cfg.write_text(cfg.read_text() + "include_prompt = false\n")
    out = tmp_path / "out" / "filled.otio"
    assert main(["fill", str(src), "-o", str(out), "--config", str(cfg), "-q", "--no-report"]) == 0
    for c in generated(out):
        path = media_of(c)
        params = created_action(active_manifest(path))["parameters"]
        assert "prompt" not in params and params["request_hash"] == c.metadata["shotfill"]["request_hash"]
        assert c.metadata["shotfill"]["prompt"].encode() not in path.read_bytes()


def test_a_cached_clip_placed_again_is_signed(tmp_path, ca):
    src = cut(tmp_path)
    state = tmp_path / "state"
    # 1. unsigned run: the clips land in the cache
    out1 = tmp_path / "one" / "filled.otio"
    assert main(["fill", str(src), "-o", str(out1), "--state-dir", str(state), "-q", "--no-report"]) == 0
    assert all(active_manifest(media_of(c)) is None for c in generated(out1))
    cached = sorted(p for p in (state / "cache").rglob("*") if p.is_file() and p.suffix != ".json")
    assert cached
    before = {p: p.read_bytes() for p in cached}
    # 2. signing on, same cache: placed again from the cache, and signed
    cfg = write_config(tmp_path / "shotfill.toml", ca)
    for run in ("two", "three"):
        out = tmp_path / run / "filled.otio"
        assert main(["fill", str(src), "-o", str(out), "--state-dir", str(state), "--config", str(cfg),
                     "-q", "--no-report"]) == 0
        for c in generated(out):
            assert created_action(active_manifest(media_of(c)))["parameters"]["request_hash"] == \
                c.metadata["shotfill"]["request_hash"]
    # the same folder again (files already signed there): still signed, once
    out = tmp_path / "three" / "filled.otio"
    assert main(["fill", str(src), "-o", str(out), "--state-dir", str(state), "--config", str(cfg),
                 "-q", "--no-report"]) == 0
    for c in generated(out):
        store = read_store(media_of(c))
        assert len(store["manifests"]) == 1 and failures(store) == []
    # the cache's clips (hard-linked into place when they already match) were never signed in place
    assert {p: p.read_bytes() for p in cached} == before


def test_the_providers_own_manifest_is_kept_as_the_ingredient(tmp_path, ca, monkeypatch, capsys):
    """A service that signs its output (as OpenAI and Google say theirs do): its manifest travels inside ours."""
    from fakes.openai import GATEWAY_MODEL, FakeOpenAI

    # The "provider's" signed clip, with a manifest of its own from another CA.
    theirs = tmp_path / "theirs.mp4"
    make_test_clip(tmp_path / "plain.mp4", rate="24", frames=24)
    provider_ca = make_ca(tmp_path / "provider_ca", name="Provider")
    signer = Signing(C2paSettings(sign_cert=str(provider_ca[0]), private_key=str(provider_ca[1])))
    theirs.write_bytes((tmp_path / "plain.mp4").read_bytes())
    signer.sign(theirs, Claim(provider="their-service", model="m1", seed=None, request_hash="0" * 64,
                              prompt="their own"), original=None, frames=24)
    their_label = read_store(theirs)["active_manifest"]

    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    src = cut(tmp_path)
    with FakeOpenAI(theirs.read_bytes(), key=OPENAI_KEY) as fake:
        cfg = write_config(tmp_path / "shotfill.toml", ca, 'default_provider = "openai"', "[providers.openai]",
                           f'base_url = "{fake.url}"', "poll_interval = 0.01", "timeout = 60", GATEWAY_MODEL)
        out = tmp_path / "out" / "filled.otio"
        code = main(["fill", str(src), "-o", str(out), "--config", str(cfg), "--codec", "h264", "-q",
                     "--no-report"])
        # again, beside it: the originals now come from the cache (files without a suffix)
        again = tmp_path / "out" / "again.otio"
        code2 = main(["fill", str(src), "-o", str(again), "--config", str(cfg), "--codec", "h264", "-q",
                      "--no-report"])
        posts = sum(1 for r in fake.requests if r.method == "POST")
    io = capsys.readouterr()
    assert code == 0 and code2 == 0, io.err
    assert posts == 2, "the second run is served by the cache"
    for c in generated(out) + generated(again):
        store = read_store(media_of(c))
        assert failures(store) == [], store.get("validation_status")
        manifest = store["manifests"][store["active_manifest"]]
        assert created_action(manifest)["digitalSourceType"] == TRAINED
        assert created_action(manifest)["parameters"]["provider"] == "openai"
        (ingredient,) = manifest["ingredients"]
        assert ingredient["relationship"] == "componentOf" and ingredient["active_manifest"] == their_label
        assert created_action(store["manifests"][their_label])["parameters"]["provider"] == "their-service"
    assert OPENAI_KEY not in io.out + io.err


def test_a_key_that_does_not_sign_stops_the_run_before_anything_is_generated(tmp_path, ca, capsys):
    chain, _ = ca
    other = make_ca(tmp_path / "other")[1]
    key_text = other.read_text()
    src = cut(tmp_path)
    cfg = tmp_path / "shotfill.toml"
    # the key inline, as a TOML multi-line string: it must never be shown
    cfg.write_text(f'[c2pa]\nsign_cert = "{chain}"\nprivate_key = """{key_text}"""\n')
    out = tmp_path / "out" / "filled.otio"
    assert main(["fill", str(src), "-o", str(out), "--config", str(cfg)]) == 2
    io = capsys.readouterr()
    assert "[c2pa]" in io.err and "cannot sign" in io.err and "Traceback" not in io.err
    body = [ln for ln in key_text.splitlines() if ln and "-----" not in ln]
    for ln in body:
        assert ln not in io.out + io.err
    assert not out.exists()
    assert not list((tmp_path / "out").rglob("*.mov")) if (tmp_path / "out").exists() else True


def test_c2pa_settings_are_checked(tmp_path, ca):
    from shotfill.config import load_settings
    chain, key = ca
    bad = tmp_path / "bad.toml"
    bad.write_text(f'[c2pa]\nsign_cert = "{chain}"\nprivate_key = "{key}"\ntsa_url = "ftp://tsa"\n')
    with pytest.raises(ConfigError, match="tsa_url"):
        load_settings(bad)
    bad.write_text(f'[c2pa]\nsign_cert = "{chain}"\nprivate_key = "{key}"\nalg = "rsa"\n')
    with pytest.raises(ConfigError, match="alg"):
        load_settings(bad)
    # relative paths are the config file's
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "chain.pem").write_bytes(chain.read_bytes())
    (tmp_path / "keys" / "leaf.key").write_bytes(key.read_bytes())
    good = tmp_path / "good.toml"
    good.write_text('[c2pa]\nsign_cert = "keys/chain.pem"\nprivate_key = "keys/leaf.key"\n')
    settings = load_settings(good, cwd=Path("/"))
    assert settings.c2pa is not None and settings.c2pa.sign_cert == str(tmp_path / "keys" / "chain.pem")
    Signing(settings.c2pa)
    assert secrets.scrub(key.read_text().splitlines()[1]) != key.read_text().splitlines()[1]
    with pytest.raises(ConfigError, match="no PEM"):
        Signing(C2paSettings(sign_cert=str(tmp_path / "good.toml"), private_key=str(key)))
