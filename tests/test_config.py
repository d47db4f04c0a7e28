"""shotfill.toml loading: merge order, validation messages naming the key, secrets kept secret."""

from pathlib import Path

import pytest

from shotfill.cli.app import main
from shotfill.config import load_settings
from shotfill.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_user_then_project_file_merge_key_by_key(tmp_path, monkeypatch):
    xdg = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    write(xdg / "shotfill" / "shotfill.toml", 'default_provider = "local"\n[providers.runway]\nmodel = "gen4_turbo"\n'
          'price_per_second = 0.05\n')
    project = tmp_path / "proj"
    write(project / "shotfill.toml", "[providers.runway]\nprice_per_second = 0.07\nconcurrency = 3\n")
    s = load_settings(cwd=project)
    r = s.provider("runway")
    assert (r.model, r.price_per_second, r.concurrency) == ("gen4_turbo", 0.07, 3)
    assert len(s.sources) == 2


@pytest.mark.parametrize("text, key", [
    ("[providers.runway]\nprice_per_second = -1\n", "providers.runway.price_per_second"),
    ("[providers.runway]\nmodle = 'x'\n", "providers.runway.modle"),
    ("[providers.sora]\nmodel = 'x'\n", "providers"),
    ("concurrency = 'many'\n", "concurrency"),
    ("[providers.comfyui.inputs]\nprompt = 'text'\n", "providers.comfyui.inputs.prompt"),
])
def test_bad_settings_name_the_key(tmp_path, text, key):
    cfg = write(tmp_path / "shotfill.toml", text)
    with pytest.raises(ConfigError) as info:
        load_settings(cfg)
    assert key in str(info.value) and str(cfg) in str(info.value)


def test_bad_toml_names_the_file(tmp_path):
    cfg = write(tmp_path / "shotfill.toml", "default_provider = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(cfg)


def test_keys_come_from_env_first_and_are_never_printed(tmp_path, monkeypatch, capsys):
    cfg = write(tmp_path / "shotfill.toml", '[providers.local]\napi_key = "file-secret-123"\n'
                '[providers.comfyui]\nbase_url = "http://127.0.0.1:9"\n')
    s = load_settings(cfg)
    assert "file-secret-123" not in repr(s) and "file-secret-123" not in str(s.model_dump())
    monkeypatch.setenv("RUNWAYML_API_SECRET", "env-secret-456")
    assert s.api_key("runway") == "env-secret-456"
    monkeypatch.setenv("SHOTFILL_COMFYUI_BASE_URL", "http://127.0.0.1:8188/")
    assert s.base_url("comfyui", "x") == "http://127.0.0.1:8188"
    assert main(["providers", "--config", str(cfg), "--json"]) == 0
    out = capsys.readouterr().out
    assert "env-secret-456" not in out and "file-secret-123" not in out
    assert main(["providers", "--config", str(cfg)]) == 0
    assert "secret" not in capsys.readouterr().out


def test_cli_reports_config_errors_with_exit_2(tmp_path, capsys):
    cfg = write(tmp_path / "shotfill.toml", "[providers.runway]\ntimeout = 0\n")
    assert main(["providers", "--config", str(cfg)]) == 2
    assert "providers.runway.timeout" in capsys.readouterr().err
