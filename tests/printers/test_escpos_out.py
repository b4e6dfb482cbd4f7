"""The ESC/POS bytes of a job: Chinese mode, GB18030 text, size commands, images for rare characters."""

from __future__ import annotations

from escpos.printer import Dummy

from printers.blocks import Text
from printers.escpos_out import compose_raster, compose_text
from printers.virtual import EscPosParser


def test_punctuation_only_lines_are_sent_as_gb18030_not_question_marks() -> None:
    line = "【】，。：；"
    # python-escpos 3.1 alone sends such a string through code pages and loses it:
    plain = Dummy()
    plain.text(line + "\n")
    assert b"?" in plain.output
    job = compose_text([Text(line)], 58)
    assert job.startswith(b"\x1b@\x1c&")  # init, then the printer's Chinese mode
    assert line.encode("gb18030") in job and b"?" not in job
    assert EscPosParser(384).feed(job).pages[0].text_lines == [line]


def test_big_number_uses_the_character_size_command() -> None:
    job = compose_text([Text("A012", width=6, height=6, bold=True, align="center")], 58)
    assert b"\x1d!\x55" in job  # GS ! with width 6 and height 6
    line = EscPosParser(384).feed(job).pages[0].items[0]
    assert line.text == "A012" and line.height == 6 and line.align == "center"


def test_rare_characters_go_as_an_image_and_common_ones_as_text() -> None:
    job = compose_text([Text("持号人：䶮*"), Text("持号人：张*")], 80)
    assert "张*".encode("gb18030") in job
    assert "䶮".encode("gb18030") not in job
    assert b"\x1dv0" in job  # GS v 0 raster image for the line the printer's font may lack


def test_raster_job_is_one_image_and_a_cut() -> None:
    job = compose_raster([Text("巴中市政务服务中心"), Text("A012", width=4, height=4)], 80)
    assert job.startswith(b"\x1b@\x1dv0")
    assert job.endswith(b"\x1dV\x00")
    assert "巴中".encode("gb18030") not in job
