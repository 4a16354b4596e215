"""The predictions panel: confidence slider, the proposals of the image on screen, accept /
accept all / reject / edit, and pre-labelling (this image, or every unfinished image)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app.assist.context import AssistContext
from app.assist.models import model_choices
from app.assist.prelabel_layer import PredictionLayer, prediction_caption
from app.image_table import ImageTable
from engine.protocol import Prelabel

PROPOSAL_LIST_PREFERRED_HEIGHT = 72
CURRENT_VERSION = ""  # Prelabel.model "" = the project's current promoted version


def _swatch(color: str) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(QColor(color))
    return QIcon(pixmap)


def unfinished_count(images: ImageTable) -> int:
    """How many images are neither done nor reviewed (the session's statuses: no store read)."""
    return int(images.rows_unfinished().size)


class _ProposalList(QListWidget):
    """A list whose preferred height is small: the dock's scroll area sizes the panel by the
    preferred heights (a word-wrapped label makes it height-for-width), so QListWidget's default
    192 px would push the buttons below the fold; the layout stretch still gives it the room."""

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt name
        return QSize(super().sizeHint().width(), PROPOSAL_LIST_PREFERRED_HEIGHT)


class PredictionsPanel(QWidget):
    """Review the proposals of the image on screen and start pre-labelling jobs."""

    def __init__(self, context: AssistContext, layer: PredictionLayer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.layer = layer
        self.last_prelabel_job: str | None = None

        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 100)
        self.slider.setValue(int(round(layer.threshold * 100)))
        self.slider.setToolTip("Hide proposals scoring below this confidence")
        self.threshold_label = QLabel()
        self.slider.valueChanged.connect(self._on_slider)
        slider_row = QHBoxLayout()
        slider_row.addWidget(QLabel("Score ≥"))
        slider_row.addWidget(self.slider, 1)
        slider_row.addWidget(self.threshold_label)

        self.list = _ProposalList()
        self.list.setMinimumHeight(48)  # the list takes the room left: the controls stay visible
        self.list.itemSelectionChanged.connect(self._on_list_selection)
        self.count_label = QLabel()
        self.count_label.setWordWrap(True)
        self.count_label.setStyleSheet("color: #555;")

        self.accept_button = QPushButton("Accept")
        self.accept_button.setToolTip("Accept the selected proposal as an annotation (Enter)")
        self.accept_button.clicked.connect(lambda: self.layer.accept())
        self.reject_button = QPushButton("Reject")
        self.reject_button.setToolTip("Reject the selected proposal (Delete)")
        self.reject_button.clicked.connect(lambda: self.layer.reject())
        self.edit_button = QPushButton("Edit")
        self.edit_button.setToolTip("Make it an annotation linked to the proposal and edit its shape")
        self.edit_button.clicked.connect(lambda: self.layer.edit())
        self.accept_all_button = QPushButton("Accept all")
        self.accept_all_button.setToolTip("Accept every proposal at or above the confidence threshold (one undo step)")
        self.accept_all_button.clicked.connect(self.layer.accept_all)
        # Compact rows of decisions and pre-labelling: in a ~280 px tall dock (a 1000 px
        # window) every control stays visible and the list keeps the rest of the height.
        decide = QGridLayout()
        decide.setSpacing(4)
        decide.addWidget(self.accept_button, 0, 0)
        decide.addWidget(self.reject_button, 0, 1)
        decide.addWidget(self.edit_button, 1, 0)
        decide.addWidget(self.accept_all_button, 1, 1)

        self.model_combo = QComboBox()
        self.model_combo.addItem("the current model version", CURRENT_VERSION)
        self.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model_combo.setMinimumContentsLength(12)
        for choice in model_choices():
            self.model_combo.addItem(choice.label, choice.name)
        self.prelabel_image_button = QPushButton("This image")
        self.prelabel_image_button.setToolTip("Pre-label the image on screen")
        self.prelabel_image_button.clicked.connect(self.prelabel_current)
        self.prelabel_all_button = QPushButton("All unfinished")
        self.prelabel_all_button.setToolTip("Pre-label every image that is not done or reviewed")
        self.prelabel_all_button.clicked.connect(self.prelabel_unfinished)
        prelabel_row = QHBoxLayout()
        prelabel_row.setSpacing(4)
        prelabel_label = QLabel("Pre-label with")
        prelabel_row.addWidget(prelabel_label)
        prelabel_row.addWidget(self.model_combo, 1)
        row = QHBoxLayout()
        row.setSpacing(4)
        row.addWidget(self.prelabel_image_button)
        row.addWidget(self.prelabel_all_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addLayout(slider_row)
        layout.addWidget(self.count_label)
        layout.addWidget(self.list, 1)
        layout.addLayout(decide)
        layout.addLayout(prelabel_row)
        layout.addLayout(row)

        layer.changed.connect(self.rebuild)
        layer.selectionChanged.connect(self._on_layer_selection)
        self._on_slider(self.slider.value())
        self.rebuild()

    # ------------------------------------------------------------------ view
    def _on_slider(self, value: int) -> None:
        self.threshold_label.setText(f"{value / 100:.2f}")
        self.layer.set_threshold(value / 100.0)

    def rebuild(self) -> None:
        """Re-list the visible proposals."""
        project = self.context.project
        categories = {c.id: c for c in project.categories()}
        self.list.blockSignals(True)
        self.list.clear()
        for prediction in self.layer.predictions:
            category = categories.get(prediction.category_id)
            name = category.name if category else f"class {prediction.category_id}"
            item = QListWidgetItem(_swatch(category.color if category else "#ff00ff"), prediction_caption(prediction, name))
            item.setToolTip(f"{prediction.geometry.kind.value} proposal #{prediction.id}")
            item.setData(Qt.ItemDataRole.UserRole, prediction.id)
            self.list.addItem(item)
            if prediction.id == self.layer.selected_id:
                item.setSelected(True)
        self.list.blockSignals(False)
        hidden = len(self.layer.all_proposed()) - len(self.layer.predictions)
        versions = sorted({p.model_version_id for p in self.layer.predictions})
        text = f"{len(self.layer.predictions)} proposal(s) shown"
        if hidden:
            text += f", {hidden} below the threshold"
        if versions:
            text += " — from " + ", ".join(f"v{v}" for v in versions)
        self.count_label.setText(text)
        self._update_buttons()

    def _update_buttons(self) -> None:
        selected = self.layer.selected_id is not None
        for button in (self.accept_button, self.reject_button, self.edit_button):
            button.setEnabled(selected)
        self.accept_all_button.setEnabled(bool(self.layer.predictions))
        self.prelabel_image_button.setEnabled(self.context.current_image_id() is not None)
        self.prelabel_all_button.setEnabled(True)

    def _on_list_selection(self) -> None:
        items = self.list.selectedItems()
        self.layer.select(int(items[0].data(Qt.ItemDataRole.UserRole)) if items else None)

    def _on_layer_selection(self, prediction_id: object) -> None:
        self.list.blockSignals(True)
        for row in range(self.list.count()):
            item = self.list.item(row)
            item.setSelected(item.data(Qt.ItemDataRole.UserRole) == prediction_id)
            if item.isSelected():
                self.list.scrollToItem(item)
        self.list.blockSignals(False)
        self._update_buttons()

    # ------------------------------------------------------------------ jobs
    def selected_model(self) -> str:
        return str(self.model_combo.currentData() or "")

    def prelabel_current(self) -> str | None:
        """Submit a Prelabel job for the image on screen."""
        image_id = self.context.current_image_id()
        if image_id is None:
            return None
        request = Prelabel(self.context.project_path, model=self.selected_model(), image_ids=(image_id,),
                           score_threshold=min(self.layer.threshold, 0.05))
        self.last_prelabel_job = self.context.bridge.submit(request, f"Pre-label image {image_id}")
        return self.last_prelabel_job

    def prelabel_unfinished(self) -> str | None:
        """Submit a Prelabel job for every image that is not done or reviewed."""
        count = unfinished_count(self.context.window.session.images)
        request = Prelabel(self.context.project_path, model=self.selected_model(), image_ids=(),
                           score_threshold=min(self.layer.threshold, 0.05))
        self.last_prelabel_job = self.context.bridge.submit(request, f"Pre-label {count} unfinished images")
        return self.last_prelabel_job
