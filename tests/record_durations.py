"""Write tests/durations.json, each test file's time in a whole run, from that run's JUnit XML.

`python -m pytest ... --junitxml=run.xml` then `python -m tests.record_durations run.xml`; the
suite's conftest collects the longest files first (pytest-xdist's --dist loadfile hands them out in
that order). A test's time there is its set-up, call and tear-down, so a module's shared set-up
counts for its file.
"""

from __future__ import annotations

import argparse
import json
import logging
import xml.etree.ElementTree as ET
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).with_name("durations.json")


def file_of(classname: str) -> str | None:
    """The test file of a JUnit classname (tests.kiosk.test_x or tests.kiosk.test_x.TestClass)."""
    parts = classname.split(".")
    for n in range(len(parts), 0, -1):
        path = Path(*parts[:n]).with_suffix(".py")
        if (ROOT / path).is_file():
            return path.as_posix()
    return None


def file_seconds(junit_files: list[Path]) -> dict[str, float]:
    """Seconds per test file, summed over the test cases of the reports."""
    seconds: dict[str, float] = defaultdict(float)
    for report in junit_files:
        for case in ET.parse(report).getroot().iter("testcase"):
            path = file_of(case.get("classname", ""))
            if path is None:
                logger.warning("no file for %s", case.get("classname"))
                continue
            seconds[path] += float(case.get("time") or 0.0)
    return {k: round(v, 1) for k, v in sorted(seconds.items(), key=lambda kv: -kv[1])}


def main() -> None:
    """Read the JUnit reports named on the command line and write tests/durations.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="+", type=Path)
    parser.add_argument("--note", default="", help="how the run was made (workers, load average)")
    args = parser.parse_args()
    doc = {
        "recorded": datetime.now(UTC).strftime("%Y-%m-%d"),
        "note": args.note,
        "seconds": file_seconds(args.reports),
    }
    OUT.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(doc['seconds'])} files -> {OUT}")


if __name__ == "__main__":
    main()
