"""tests/record_durations.py: a JUnit report becomes seconds per test file, longest first."""

from __future__ import annotations

from pathlib import Path

from tests.record_durations import file_of, file_seconds

REPORT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
<testcase classname="tests.queueing.test_model" name="test_a" time="1.25"/>
<testcase classname="tests.queueing.test_model" name="test_b[x]" time="0.5"/>
<testcase classname="tests.test_layering" name="test_c" time="3.0"/>
<testcase classname="tests.kiosk.test_flow.TestFlow" name="test_d" time="0.25"/>
</testsuite></testsuites>
"""


def test_a_class_name_maps_to_its_file() -> None:
    assert file_of("tests.kiosk.test_flow.TestFlow") == "tests/kiosk/test_flow.py"
    assert file_of("tests.queueing.test_model") == "tests/queueing/test_model.py"
    assert file_of("tests.no_such_module") is None


def test_seconds_add_up_per_file_longest_first(tmp_path: Path) -> None:
    report = tmp_path / "run.xml"
    report.write_text(REPORT, encoding="utf-8")
    seconds = file_seconds([report])
    assert seconds == {
        "tests/test_layering.py": 3.0,
        "tests/queueing/test_model.py": 1.8,
        "tests/kiosk/test_flow.py": 0.2,
    }
    assert list(seconds) == [
        "tests/test_layering.py",
        "tests/queueing/test_model.py",
        "tests/kiosk/test_flow.py",
    ]
