"""The dialog that picks the service a ticket is transferred to (F6)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QHBoxLayout, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from kiosk.ui.widgets import button, label
from wire import ServiceOut


class TransferDialog(QDialog):
    """Pick the service a ticket is transferred to."""

    def __init__(self, services: list[ServiceOut], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("转移到其他事项")
        self.chosen: str | None = None
        lay = QVBoxLayout(self)
        lay.addWidget(label("请选择要转移到的事项", "big"))
        self.list = QListWidget()
        self.list.setAccessibleName("转移到的事项")
        for s in services:
            item = QListWidgetItem(f"{s.name}（{s.prefix}）" if s.prefix else s.name)
            item.setData(Qt.ItemDataRole.UserRole, s.code)
            self.list.addItem(item)
        lay.addWidget(self.list, 1)
        row = QHBoxLayout()
        row.addWidget(button("取消", self.reject))
        row.addWidget(button("确定转移", self._ok, "primary"))
        lay.addLayout(row)
        self.resize(900, 700)

    def _ok(self) -> None:
        item = self.list.currentItem()
        if item:
            self.chosen = item.data(Qt.ItemDataRole.UserRole)
            self.accept()
