"""The streamed workbook writer: what Excel (here openpyxl's reader) finds in the file."""

from __future__ import annotations

import io
import math

from openpyxl import load_workbook

from hall_server.services import xlsx_stream


def test_sheets_values_and_awkward_text_read_back() -> None:
    wide = list(range(30))  # past column Z
    data = xlsx_stream.workbook(
        [
            (
                "汇总",
                [
                    ["大厅", "测试市政务服务中心"],
                    ["取号数", 7],
                    ["好评率(%)", 97.25],
                    ["空", None],
                    ["", "b"],
                ],
            ),
            ("按窗口 <&> 'x'", [["a<b & c>", "tab\there", "bell\x07gone", True, math.nan], wide]),
            ("a" * 40, []),
        ]
    )
    assert data[:2] == b"PK"
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["汇总", "按窗口 <&> 'x'", "a" * 31]
    summary = [list(r) for r in wb["汇总"].iter_rows(values_only=True)]
    assert summary == [
        ["大厅", "测试市政务服务中心"],
        ["取号数", 7],
        ["好评率(%)", 97.25],
        ["空", None],
        [None, "b"],
    ]  # "" is an empty cell
    rows = [list(r) for r in wb["按窗口 <&> 'x'"].iter_rows(values_only=True)]
    assert rows[0][:4] == ["a<b & c>", "tab\there", "bellgone", True]
    assert rows[0][4] is None  # NaN is left empty, not written as text Excel rejects
    assert rows[1] == wide and wb["按窗口 <&> 'x'"].cell(row=2, column=28).column_letter == "AB"


def test_column_names() -> None:
    assert [xlsx_stream.column_name(i) for i in (0, 25, 26, 51, 52, 701, 702)] == [
        "A", "Z", "AA", "AZ", "BA", "ZZ", "AAA",
    ]  # fmt: skip
