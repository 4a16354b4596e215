"""Keeps the canvas in step with the session: loads image pixels (in a worker thread when the
image is large), turns annotations into render shapes, and mirrors selection and visibility.

Decoded images are kept in a small LRU (by bytes) and the next image is decoded ahead in the
background, so switching images does not wait on the decoder.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import cast

from PySide6.QtCore import QObject, QTimer, Signal

from annotations.model import Image
from app.canvas.render_shapes import RenderShape, build_render_shape
from app.canvas.view import CanvasView
from app.image_loading import DisplayImage, ImageLoadError, Pyramid, decode_image, decode_preview
from app.session import Session

log = logging.getLogger(__name__)

SYNC_DECODE_MAX_PIXELS = 12_000_000
"""Images up to this many pixels are decoded on the GUI thread (a few tens of ms); larger
ones in the background while the shapes are already shown and editable."""
CACHE_MAX_BYTES = 600 * 1024 * 1024


class _Relay(QObject):
    done = Signal(int, object)  # image id, (DisplayImage, Pyramid), ("preview", DisplayImage, Pyramid) or ImageLoadError


class CanvasBinding(QObject):
    """Signals: ``imageLoaded(int)`` (pixels of that image are on screen), ``imageFailed(int,
    str)`` (the file could not be decoded; shapes are still shown over a blank image)."""

    imageLoaded = Signal(int)
    imageFailed = Signal(int, str)

    def __init__(self, session: Session, canvas: CanvasView, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.canvas = canvas
        self.render: dict[int, RenderShape] = {}
        self.display: DisplayImage | None = None
        self.pyramid: Pyramid | None = None
        self._inflight: set[int] = set()
        self._closed = False
        self.failed_image_id: int | None = None
        """The current image when its file could not be decoded."""
        self.preview_shown = False
        """A reduced-resolution preview of the current image is on screen (large JPEGs)."""
        self._loaded_id: int | None = None
        self._cache: OrderedDict[str, tuple[DisplayImage, Pyramid]] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="decode")
        self._relay = _Relay()
        self._relay.done.connect(self._on_decoded)
        session.imageChanged.connect(self._on_image_changed)
        session.annotationsChanged.connect(self._on_annotations_changed)
        session.selectionChanged.connect(self._sync_selection)
        session.visibilityChanged.connect(self._sync_selection)
        session.categoriesChanged.connect(self._on_categories_changed)

    # ------------------------------------------------------------------ images
    @property
    def loaded_image_id(self) -> int | None:
        """The image whose pixels are on screen (None while decoding)."""
        return self._loaded_id

    def _on_image_changed(self, image_id: int) -> None:
        image = self.session.image
        assert image is not None
        self._loaded_id = None
        self.failed_image_id = None
        self.preview_shown = False
        self.display = self.pyramid = None
        path = self.session.project.image_path(image)
        cached = self._cache_get(str(path))
        self.canvas.set_image(cached[1] if cached else None, image.size_hw, fit=True)
        if cached is not None:
            self._show(image, *cached)
            return
        if image.width * image.height <= SYNC_DECODE_MAX_PIXELS:
            try:
                display = decode_image(path)
            except ImageLoadError as exc:
                self._fail(image, str(exc))
                return
            pyramid = Pyramid(display.pixels)
            pyramid.build_all()
            self._cache_put(str(path), display, pyramid)
            self.canvas.set_pyramid(pyramid)
            self._show(image, display, pyramid)
            return
        self.session.message.emit(f"Decoding {Path(image.path).name} ({image.width} × {image.height}) …")
        if not self._closed and image.id not in self._inflight:
            self._inflight.add(image.id)
            self._executor.submit(self._decode_job, image.id, path)

    def _decode_job(self, image_id: int, path: Path) -> None:
        try:
            preview = decode_preview(path)
            if preview is not None:
                self._relay.done.emit(image_id, ("preview", preview, Pyramid(preview.pixels)))
            display = decode_image(path)
            pyramid = Pyramid(display.pixels)
            pyramid.build_all()
            self._cache_put(str(path), display, pyramid)
            self._relay.done.emit(image_id, (display, pyramid))
        except ImageLoadError as exc:
            self._relay.done.emit(image_id, exc)
        except MemoryError:
            self._relay.done.emit(image_id, ImageLoadError(f"{path}: not enough memory to decode"))
        finally:
            self._inflight.discard(image_id)

    def _on_decoded(self, image_id: int, result: object) -> None:
        """A decode finished (or its preview is ready); used only if that image is still shown."""
        image = self.session.image
        if image is None or image.id != image_id or self._loaded_id == image_id or self._closed:
            return
        if isinstance(result, ImageLoadError):
            self._fail(image, str(result))
            return
        if isinstance(result, tuple) and len(result) == 3 and result[0] == "preview":
            if self.canvas.image_layer.pyramid is None:
                self.preview_shown = True
                self.canvas.set_pyramid(result[2])
            return
        display, pyramid = cast(tuple[DisplayImage, Pyramid], result)  # the full decode (see _decode_job)
        self.canvas.set_pyramid(pyramid)
        self._show(image, display, pyramid)

    def _show(self, image: Image, display: DisplayImage, pyramid: Pyramid) -> None:
        self.display, self.pyramid = display, pyramid
        self._loaded_id = image.id
        if display.size_hw != image.size_hw:
            self.session.message.emit(
                f"Warning: {Path(image.path).name} is {display.size_hw[1]} × {display.size_hw[0]} on disk but "
                f"{image.width} × {image.height} in the project"
            )
        self.imageLoaded.emit(image.id)
        QTimer.singleShot(0, self._prefetch_next)

    def _fail(self, image: Image, message: str) -> None:
        self._loaded_id = None
        self.failed_image_id = image.id
        self.canvas.set_pyramid(None)
        path = self.session.project.image_path(image)
        reason = "cannot decode" if path.is_file() else "file not found"
        self.canvas.image_layer.set_placeholder(f"{reason}: {Path(image.path).name}")
        self.session.message.emit(f"Cannot show image: {message}")
        self.imageFailed.emit(image.id, message)

    def _prefetch_next(self) -> None:
        image = self.session.image
        if image is None or self._closed:
            return
        images = self.session.images
        try:
            index = self.session.image_index(image.id)
        except Exception:  # noqa: BLE001 - the list changed meanwhile; prefetch is optional
            return
        if index + 1 >= len(images):
            return
        following = images[index + 1]
        if following.width * following.height * 4 > CACHE_MAX_BYTES // 3:
            return
        path = self.session.project.image_path(following)
        if self._cache_get(str(path), touch=False) is None:
            self._executor.submit(self._prefetch_job, path)

    def _prefetch_job(self, path: Path) -> None:
        try:
            display = decode_image(path)
        except (ImageLoadError, MemoryError):
            return
        pyramid = Pyramid(display.pixels)
        pyramid.build_all()
        self._cache_put(str(path), display, pyramid)

    def _cache_get(self, key: str, touch: bool = True) -> tuple[DisplayImage, Pyramid] | None:
        with self._cache_lock:
            found = self._cache.get(key)
            if found is not None and touch:
                self._cache.move_to_end(key)
            return found

    def _cache_put(self, key: str, display: DisplayImage, pyramid: Pyramid) -> None:
        with self._cache_lock:
            self._cache[key] = (display, pyramid)
            self._cache.move_to_end(key)
            total = sum(d.nbytes + d.pixels.nbytes // 3 for d, _p in self._cache.values())
            while total > CACHE_MAX_BYTES and len(self._cache) > 1:
                _key, (old, _pyr) = self._cache.popitem(last=False)
                total -= old.nbytes + old.pixels.nbytes // 3

    def wait_until_loaded(self, timeout_s: float = 60.0) -> bool:
        """Process events until the current image's pixels are shown (screenshots, tests)."""
        from PySide6.QtCore import QCoreApplication, QDeadlineTimer, QEventLoop

        deadline = QDeadlineTimer(int(timeout_s * 1000))
        image = self.session.image
        while (
            image is not None
            and self._loaded_id != image.id
            and self.failed_image_id != image.id
            and not deadline.hasExpired()
        ):
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            time.sleep(0.005)
        return image is None or self._loaded_id == image.id

    def shutdown(self) -> None:
        """Stop decoding (the window is closing)."""
        self._closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------ shapes
    def _z_orders(self) -> dict[int, int]:
        return {a.id: a.z_order for a in self.session.annotations.values()}

    def _build(self, annotation_id: int) -> RenderShape:
        annotation = self.session.annotations[annotation_id]
        return build_render_shape(annotation, self.session.color_of(annotation.category_id))

    def _on_annotations_changed(self, changed: frozenset[int] | None) -> None:
        """``changed``: the ids from Session.annotationsChanged, or None for all of them."""
        layer = self.canvas.shape_layer
        if changed is None:
            self.render = {a.id: self._build(a.id) for a in self.session.ordered_annotations()}
            layer.set_shapes(list(self.render.values()), self._z_orders())
        else:
            updates: dict[int, RenderShape | None] = {}
            for ann_id in changed:
                if ann_id in self.session.annotations:
                    updates[ann_id] = self.render[ann_id] = self._build(ann_id)
                else:
                    self.render.pop(ann_id, None)
                    updates[ann_id] = None
            layer.update_shapes(updates, self._z_orders())
        self._sync_selection()

    def _on_categories_changed(self) -> None:
        """Colours may have changed: rebuild every render shape (mask colours are baked in)."""
        self.canvas.shape_layer.clear_style_cache()
        self._on_annotations_changed(None)

    def _sync_selection(self) -> None:
        session = self.session
        hidden = set(session.hidden)
        visible_selection = [i for i in session.selection if i not in hidden and i in self.render]
        self.canvas.shape_layer.set_excluded(hidden | set(visible_selection))
        self.canvas.shape_layer.set_all_hidden(session.all_hidden)
        self.canvas.selection_overlay.set_shapes([] if session.all_hidden else [self.render[i] for i in visible_selection])
        self.canvas.selection_overlay.setVisible(not session.all_hidden)
