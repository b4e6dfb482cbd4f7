"""Per-machine configuration: files, flags, and clear errors."""

from __future__ import annotations

import json

import pytest

from kiosk.config import load_config
from kiosk.errors import ConfigError


def test_toml_file_and_flags(tmp_path):
    f = tmp_path / "kiosk.toml"
    f.write_text(
        'role = "display"\nhall = "bz-city"\nserver = "http://10.0.0.2:8000"\n'
        '[voice]\nrepeats = 3\n[printer]\nkind = "network"\ntarget = "10.0.0.9:9100"\nwidth_mm = 58\n',
        encoding="utf-8",
    )
    cfg = load_config(f)
    assert (cfg.role, cfg.hall, cfg.voice.repeats, cfg.printer.width_mm) == ("display", "bz-city", 3, 58)
    cfg = load_config(
        f, {"role": "visitor", "printer_mode": "text", "voice_repeats": None, "elderly_mode": True}
    )
    assert (
        cfg.role == "visitor" and cfg.printer.mode == "text" and cfg.voice.repeats == 3 and cfg.elderly_mode
    )
    assert cfg.printer.target == "10.0.0.9:9100"


def test_json_file(tmp_path):
    f = tmp_path / "k.json"
    f.write_text(
        json.dumps({"role": "rating", "hall": "h", "window_id": 3, "id_reader": "sim"}), encoding="utf-8"
    )
    cfg = load_config(f)
    assert cfg.window_id == 3 and cfg.id_reader == "sim"


@pytest.mark.parametrize(
    "content, needle",
    [
        ('role = "cashier"\n', "未知的终端角色"),
        ('role = "visitor"\ncolour = "red"\n', "未知项"),
        ("role = \n", "无法解析"),
        ("[printer]\nwidth_mm = 76\n", "纸宽"),
        ("idle_timeout_s = 1\n", "空闲超时"),
    ],
)
def test_bad_config_is_a_clear_chinese_error(tmp_path, content, needle):
    f = tmp_path / "bad.toml"
    f.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(f)
    assert needle in err.value.message_zh


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")
