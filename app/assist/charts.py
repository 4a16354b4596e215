"""Small QPainter charts for the assist panels: line charts (learning curves, PR curves) and a
heat map (confusion matrix). Painting takes a few milliseconds, so live updates during training
never stall the event loop (no matplotlib on the GUI thread)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] (about ``count`` of them)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(1, count)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.ceil(lo / step - 1e-9) * step
    ticks = []
    value = start
    while value <= hi + 1e-9 * step:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000 or abs(value) < 0.01:
        return f"{value:.1e}"
    return f"{value:g}" if abs(value) >= 1 else f"{value:.3f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class Series:
    """One line: points ``(xs[i], ys[i])``; NaN y values break the line. ``right_axis`` plots
    it against the second y axis."""

    name: str
    xs: Sequence[float]
    ys: Sequence[float]
    color: str = ""
    dashed: bool = False
    right_axis: bool = False
    markers: bool = False


class LineChart(QWidget):
    """A line chart with optional second y axis, grid, legend and fixed or automatic ranges."""

    def __init__(
        self,
        title: str = "",
        x_label: str = "",
        y_label: str = "",
        y2_label: str = "",
        *,
        x_range: tuple[float, float] | None = None,
        y_range: tuple[float, float] | None = None,
        y2_range: tuple[float, float] | None = None,
        empty_text: str = "no data yet",
        integer_x: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.integer_x = integer_x
        self.title, self.x_label, self.y_label, self.y2_label = title, x_label, y_label, y2_label
        self.x_range, self.y_range, self.y2_range = x_range, y_range, y2_range
        self.empty_text = empty_text
        self.series: list[Series] = []
        self.setMinimumSize(220, 160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        return QSize(360, 220)

    def set_series(self, series: Sequence[Series]) -> None:
        """Replace the lines and repaint."""
        self.series = list(series)
        self.update()

    @staticmethod
    def _range(values: list[float], fixed: tuple[float, float] | None) -> tuple[float, float]:
        if fixed is not None:
            return fixed
        finite = [v for v in values if math.isfinite(v)]
        if not finite:
            return (0.0, 1.0)
        lo, hi = min(finite), max(finite)
        if hi - lo < 1e-12:
            pad = abs(hi) * 0.1 or 1.0
            return (lo - pad, hi + pad)
        pad = (hi - lo) * 0.05
        return (lo - pad, hi + pad)

    def paintEvent(self, _event: object) -> None:  # noqa: N802 (Qt name)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor("#ffffff"))
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.9))
        painter.setFont(font)
        fm = QFontMetricsF(font)
        has_right = any(s.right_axis for s in self.series)
        left = fm.horizontalAdvance("0.000") + (fm.height() + 6 if self.y_label else 8)
        right = (fm.horizontalAdvance("0.000") + fm.height() + 10) if has_right else 12
        top = fm.height() + 10 if self.title else 8
        bottom = fm.height() * 2 + 10 if self.x_label else fm.height() + 10
        plot = QRectF(left, top, max(10.0, self.width() - left - right), max(10.0, self.height() - top - bottom))
        if self.title:
            bold = QFont(font)
            bold.setBold(True)
            painter.setFont(bold)
            painter.setPen(QColor("#222222"))
            painter.drawText(QRectF(0, 2, self.width(), fm.height() + 4), Qt.AlignmentFlag.AlignHCenter, self.title)
            painter.setFont(font)

        xs = [float(x) for s in self.series for x in s.xs]
        x_lo, x_hi = self._range(xs, self.x_range)
        y_lo, y_hi = self._range([float(y) for s in self.series if not s.right_axis for y in s.ys], self.y_range)
        y2_lo, y2_hi = self._range([float(y) for s in self.series if s.right_axis for y in s.ys], self.y2_range)

        def to_px(x: float, y: float, right_axis: bool) -> QPointF:
            lo, hi = (y2_lo, y2_hi) if right_axis else (y_lo, y_hi)
            px = plot.left() + (x - x_lo) / (x_hi - x_lo) * plot.width()
            py = plot.bottom() - (y - lo) / (hi - lo) * plot.height()
            return QPointF(px, py)

        # grid and axes
        painter.setPen(QPen(QColor("#e5e5e5"), 1))
        for ty in nice_ticks(y_lo, y_hi):
            if y_lo <= ty <= y_hi:
                p = to_px(x_lo, ty, False)
                painter.drawLine(QPointF(plot.left(), p.y()), QPointF(plot.right(), p.y()))
        painter.setPen(QPen(QColor("#888888"), 1))
        painter.drawRect(plot)
        painter.setPen(QColor("#444444"))
        x_ticks = nice_ticks(x_lo, x_hi, max(2, int(plot.width() // 60)))
        if self.integer_x:
            x_ticks = [t for t in x_ticks if float(t).is_integer()] or [float(round((x_lo + x_hi) / 2))]
        for tx in x_ticks:
            if x_lo - 1e-9 <= tx <= x_hi + 1e-9:
                p = to_px(tx, y_lo, False)
                painter.drawLine(QPointF(p.x(), plot.bottom()), QPointF(p.x(), plot.bottom() + 3))
                painter.drawText(QRectF(p.x() - 30, plot.bottom() + 3, 60, fm.height()), Qt.AlignmentFlag.AlignHCenter, _fmt(tx))
        for ty in nice_ticks(y_lo, y_hi, max(2, int(plot.height() // 40))):
            if y_lo - 1e-9 <= ty <= y_hi + 1e-9:
                p = to_px(x_lo, ty, False)
                painter.drawText(QRectF(0, p.y() - fm.height() / 2, plot.left() - 4, fm.height()),
                                 Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, _fmt(ty))
        if has_right:
            for ty in nice_ticks(y2_lo, y2_hi, max(2, int(plot.height() // 40))):
                if y2_lo - 1e-9 <= ty <= y2_hi + 1e-9:
                    p = to_px(x_lo, ty, True)
                    painter.drawText(QRectF(plot.right() + 4, p.y() - fm.height() / 2, 60, fm.height()),
                                     Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, _fmt(ty))
        if self.x_label:
            painter.drawText(QRectF(plot.left(), self.height() - fm.height() - 4, plot.width(), fm.height()),
                             Qt.AlignmentFlag.AlignHCenter, self.x_label)
        for label, x, angle in ((self.y_label, 2.0, -90), (self.y2_label if has_right else "", self.width() - 2.0, 90)):
            if label:
                painter.save()
                painter.translate(x, plot.center().y())
                painter.rotate(angle)
                painter.drawText(QRectF(-plot.height() / 2, 0, plot.height(), fm.height()), Qt.AlignmentFlag.AlignHCenter, label)
                painter.restore()

        if not any(len(s.xs) for s in self.series):
            painter.setPen(QColor("#999999"))
            painter.drawText(plot, Qt.AlignmentFlag.AlignCenter, self.empty_text)
            painter.end()
            return

        # lines
        painter.save()
        painter.setClipRect(plot.adjusted(-1, -1, 1, 1))
        for index, s in enumerate(self.series):
            color = QColor(s.color or PALETTE[index % len(PALETTE)])
            pen = QPen(color, 2)
            if s.dashed:
                pen.setStyle(Qt.PenStyle.DashLine)
            painter.setPen(pen)
            path = QPainterPath()
            pen_down = False
            points = []
            for x, y in zip(s.xs, s.ys):
                if not (math.isfinite(float(x)) and math.isfinite(float(y))):
                    pen_down = False
                    continue
                p = to_px(float(x), float(y), s.right_axis)
                points.append(p)
                if pen_down:
                    path.lineTo(p)
                else:
                    path.moveTo(p)
                    pen_down = True
            painter.drawPath(path)
            if s.markers or len(points) <= 30:
                painter.setBrush(color)
                for p in points:
                    painter.drawEllipse(p, 2.5, 2.5)
                painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.restore()

        # legend
        named = [(i, s) for i, s in enumerate(self.series) if s.name]
        if named:
            width = max(fm.horizontalAdvance(s.name) for _, s in named) + 30
            height = fm.height() * len(named) + 6
            box = QRectF(plot.right() - width - 4, plot.top() + 4, width, height)
            painter.setPen(QPen(QColor("#cccccc"), 1))
            painter.setBrush(QColor(255, 255, 255, 220))
            painter.drawRect(box)
            for row, (i, s) in enumerate(named):
                y = box.top() + 3 + row * fm.height() + fm.height() / 2
                pen = QPen(QColor(s.color or PALETTE[i % len(PALETTE)]), 2)
                if s.dashed:
                    pen.setStyle(Qt.PenStyle.DashLine)
                painter.setPen(pen)
                painter.drawLine(QPointF(box.left() + 4, y), QPointF(box.left() + 20, y))
                painter.setPen(QColor("#222222"))
                painter.drawText(QRectF(box.left() + 24, y - fm.height() / 2, width, fm.height()),
                                 Qt.AlignmentFlag.AlignVCenter, s.name)
        painter.end()


class HeatmapChart(QWidget):
    """A matrix as coloured cells with counts (e.g. a confusion matrix: rows = ground truth,
    columns = prediction). Colour intensity is the cell's share of its row."""

    def __init__(self, title: str = "", row_title: str = "", column_title: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title, self.row_title, self.column_title = title, row_title, column_title
        self.matrix: list[list[float]] = []
        self.row_labels: list[str] = []
        self.column_labels: list[str] = []
        self.setMinimumSize(220, 200)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(360, 300)

    def set_matrix(self, matrix: Sequence[Sequence[float]], row_labels: Sequence[str], column_labels: Sequence[str]) -> None:
        """Replace the matrix (rows x columns) and its labels, and repaint."""
        self.matrix = [[float(v) for v in row] for row in matrix]
        self.row_labels, self.column_labels = list(row_labels), list(column_labels)
        self.update()

    def paintEvent(self, _event: object) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#ffffff"))
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        painter.setFont(font)
        fm = QFontMetricsF(font)
        top = fm.height() + 8 if self.title else 4
        if self.title:
            bold = QFont(font)
            bold.setBold(True)
            painter.setFont(bold)
            painter.setPen(QColor("#222222"))
            painter.drawText(QRectF(0, 2, self.width(), fm.height() + 4), Qt.AlignmentFlag.AlignHCenter, self.title)
            painter.setFont(font)
        if not self.matrix:
            painter.setPen(QColor("#999999"))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "no data yet")
            painter.end()
            return
        rows, cols = len(self.matrix), len(self.matrix[0])
        label_w = min(self.width() * 0.3, max((fm.horizontalAdvance(t) for t in self.row_labels), default=20) + 8)
        col_label_h = min(self.height() * 0.3, max((fm.horizontalAdvance(t) for t in self.column_labels), default=20) + 8)
        left = label_w + (fm.height() + 4 if self.row_title else 0)
        grid_top = top + (fm.height() + 2 if self.column_title else 0) + col_label_h
        cell = max(4.0, min((self.width() - left - 6) / cols, (self.height() - grid_top - 6) / rows))
        grid = QRectF(left, grid_top, cell * cols, cell * rows)
        painter.setPen(QColor("#444444"))
        if self.column_title:
            painter.drawText(
                QRectF(grid.left(), top, grid.width(), fm.height()), Qt.AlignmentFlag.AlignHCenter, self.column_title
            )
        if self.row_title:
            painter.save()
            painter.translate(2, grid.center().y())
            painter.rotate(-90)
            painter.drawText(
                QRectF(-grid.height() / 2, 0, grid.height(), fm.height()), Qt.AlignmentFlag.AlignHCenter, self.row_title
            )
            painter.restore()
        for r, row in enumerate(self.matrix):
            total = sum(row) or 1.0
            for c, value in enumerate(row):
                share = value / total
                rect = QRectF(grid.left() + c * cell, grid.top() + r * cell, cell, cell)
                shade = int(255 - 200 * share)
                painter.fillRect(rect, QColor(shade, shade, 255) if r != c else QColor(shade, 255, shade))
                painter.setPen(QColor("#dddddd"))
                painter.drawRect(rect)
                if cell >= fm.horizontalAdvance(_fmt(value)) + 4 and cell >= fm.height():
                    painter.setPen(QColor("#ffffff") if share > 0.6 else QColor("#222222"))
                    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, _fmt(value) if value else "")
        painter.setPen(QColor("#222222"))
        for r, text in enumerate(self.row_labels[:rows]):
            rect = QRectF(left - label_w, grid.top() + r * cell, label_w - 4, cell)
            painter.drawText(rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                             fm.elidedText(text, Qt.TextElideMode.ElideRight, label_w - 4))
        for c, text in enumerate(self.column_labels[:cols]):
            painter.save()
            painter.translate(grid.left() + c * cell + cell / 2 - fm.height() / 2, grid.top() - 4)
            painter.rotate(-90)
            painter.drawText(QRectF(0, 0, col_label_h - 4, fm.height()), Qt.AlignmentFlag.AlignLeft,
                             fm.elidedText(text, Qt.TextElideMode.ElideRight, col_label_h - 4))
            painter.restore()
        painter.end()
