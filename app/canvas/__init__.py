"""The image canvas: a QGraphicsView showing the image pyramid, a tile-cached shape layer, the
selection overlay and tool previews. Scene coordinates are continuous image pixel coordinates."""

from app.canvas.view import CanvasView

__all__ = ["CanvasView"]
