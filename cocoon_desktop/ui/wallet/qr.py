"""QR codes drawn straight from `qrcode`'s module matrix into a QImage (no PIL round trip)."""

from __future__ import annotations

import qrcode
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QLabel, QWidget

QUIET_ZONE_MODULES = 4


def qr_matrix(text: str) -> list[list[bool]]:
    code = qrcode.QRCode(border=QUIET_ZONE_MODULES,
                         error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(text)
    code.make(fit=True)
    return code.get_matrix()


def qr_image(text: str, size_px: int = 220) -> QImage:
    """A black-on-white QR code of `text`, `size_px` square (modules rounded to whole pixels)."""
    matrix = qr_matrix(text)
    modules = len(matrix)
    scale = max(1, size_px // modules)
    side = modules * scale
    image = QImage(side, side, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    black = QColor("black")
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                painter.fillRect(QRect(x * scale, y * scale, scale, scale), black)
    painter.end()
    return image


def ton_transfer_link(address: str, amount_nano: int | None = None) -> str:
    """A `ton://transfer/` link that wallet apps open with the address (and amount) filled in."""
    link = f"ton://transfer/{address}"
    return f"{link}?amount={amount_nano}" if amount_nano else link


class QrLabel(QLabel):
    def __init__(self, size_px: int = 180, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.size_px = size_px
        self.payload = ""
        self.setFixedSize(size_px, size_px)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)

    def set_payload(self, text: str) -> None:
        self.payload = text
        if not text:
            self.clear()
            return
        image = qr_image(text, self.size_px)
        self.setPixmap(QPixmap.fromImage(image).scaled(
            self.size_px, self.size_px, Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.FastTransformation))
        self.setToolTip(text)
