"""Canvas frame times for pan and zoom: SegStudio's canvas vs the naive QGraphicsScene design.

    python bench/canvas.py [--counts 5000 20000] [--frames 120] [--naive-frames 24] [--large]

A 6,000 x 4,000 image with N random polygons (12-24 vertices, 8-40 px radius, 5 classes) is
shown in a 1280 x 800 view fitted to the image (every polygon visible: the worst case). Both
designs run the same frame script in the same process: pan steps of 10-40 screen pixels and
wheel-zoom steps (x1.25 / x0.8 at varying anchors). A frame is the operation plus a forced,
synchronous repaint of the whole viewport plus the event processing that follows (our idle
tile rendering included), so no work is hidden outside the timed region.

- naive: one antialiased QGraphicsPolygonItem per polygon (cosmetic pen, translucent brush)
  over a QGraphicsPixmapItem; QGraphicsView with Antialiasing and SmoothPixmapTransform.
- ours: app.canvas.CanvasView with the image pyramid and the tile-cached shape layer
  (shapes drawn antialiased into cached tiles; a zoom shows the previous zoom's tiles scaled
  until the sharp ones are rendered, within a per-frame budget).

Also printed: how long ours takes after a zoom step until every visible tile is sharp again.
``--large`` additionally opens a 20,000 x 15,000 JPEG (decode + pyramid, off the GUI thread in
the app) and times pan/zoom frames on it.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from PySide6.QtCore import QEventLoop, QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPen, QPixmap, QPolygonF, QTransform
from PySide6.QtWidgets import QApplication, QGraphicsPixmapItem, QGraphicsPolygonItem, QGraphicsScene, QGraphicsView

from annotations.geometry import Polygon
from annotations.model import Annotation
from app.canvas.qt_numpy import qimage_from_array
from app.canvas.render_shapes import build_render_shape
from app.canvas.view import CanvasView
from app.image_loading import Pyramid, decode_image

VIEW_W, VIEW_H = 1280, 800
FRAME_INTERVAL_S = 1.0 / 60.0
IMAGE_W, IMAGE_H = 6000, 4000
COLORS = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4")


def make_image(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A textured B,G,R,A uint8 image (smooth noise, so scaling has real work to do)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(height // 50 + 2, width // 50 + 2, 3), dtype=np.uint8)
    import cv2

    big = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    big = cv2.add(big, rng.integers(0, 40, size=(height, width, 1), dtype=np.uint8).repeat(3, axis=2))
    return cv2.cvtColor(big, cv2.COLOR_BGR2BGRA)


def make_polygons(count: int, width: int, height: int, seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        n = int(rng.integers(12, 25))
        radius = rng.uniform(8, 40)
        cx, cy = rng.uniform(radius, width - radius), rng.uniform(radius, height - radius)
        angles = np.sort(rng.uniform(0, 2 * math.pi, n))
        r = radius * rng.uniform(0.6, 1.0, n)
        out.append(np.stack([cx + r * np.cos(angles), cy + r * np.sin(angles)], axis=1))
    return out


def frame_script(count: int, seed: int = 7) -> list[tuple[str, float, float, float]]:
    """(kind, a, b, c): ("pan", dx, dy, 0) or ("zoom", factor, anchor_x_frac, anchor_y_frac)."""
    rng = np.random.default_rng(seed)
    ops = []
    zoom_level = 0
    for i in range(count):
        if i % 6 == 5:
            zoom_in = zoom_level < 3 and (zoom_level <= 0 or rng.random() < 0.5)
            zoom_level += 1 if zoom_in else -1
            ops.append(("zoom", 1.25 if zoom_in else 0.8, rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7)))
        else:
            angle = rng.uniform(0, 2 * math.pi)
            step = rng.uniform(10, 40)
            ops.append(("pan", step * math.cos(angle), step * math.sin(angle), 0.0))
    return ops


def apply(view: QGraphicsView, op: tuple[str, float, float, float]) -> None:
    kind, a, b, c = op
    if kind == "pan":
        h, v = view.horizontalScrollBar(), view.verticalScrollBar()
        h.setValue(h.value() + int(round(a)))
        v.setValue(v.value() + int(round(b)))
        return
    anchor = QPoint(int(VIEW_W * b), int(VIEW_H * c))
    before = view.mapToScene(anchor)
    scale = view.transform().m11() * a
    view.setTransform(QTransform.fromScale(scale, scale))
    after = view.mapToScene(anchor)
    delta = (after - before) * scale
    h, v = view.horizontalScrollBar(), view.verticalScrollBar()
    h.setValue(h.value() - int(round(delta.x())))
    v.setValue(v.value() - int(round(delta.y())))


def pump_until(app: QApplication, deadline: float) -> None:
    """Run the event loop (timers, idle tile rendering) until ``deadline``."""
    while True:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            return
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, max(1, int(remaining * 1000)))
        if time.perf_counter() < deadline:
            time.sleep(min(0.0002, max(0.0, deadline - time.perf_counter())))


def run_frames(app: QApplication, view: QGraphicsView, ops: list) -> list[float]:
    """Input arrives at 60 Hz (or as soon as the previous frame is done, if slower); between
    inputs the event loop runs (our idle tile rendering happens there). A frame's time is from
    its input's arrival to the end of the repaint, so idle work that overruns into the next
    input is counted."""
    times = []
    arrival = time.perf_counter()
    for op in ops:
        pump_until(app, arrival)
        cpu = time.thread_time()
        apply(view, op)
        view.viewport().repaint()
        end = time.perf_counter()
        times.append((end - arrival) * 1000.0)
        CPU_TIMES.append((time.thread_time() - cpu) * 1000.0)
        arrival = max(arrival + FRAME_INTERVAL_S, end)
    return times


CPU_TIMES: list[float] = []
"""GUI-thread CPU time of each frame's operation and repaint (not slowed by other processes;
idle work between frames not included)."""


def fit(view: QGraphicsView, width: int, height: int) -> None:
    scale = min((VIEW_W - 8) / width, (VIEW_H - 8) / height)
    view.setTransform(QTransform.fromScale(scale, scale))
    view.centerOn(width / 2, height / 2)


def naive_view(pixels: np.ndarray, polygons: list[np.ndarray]) -> QGraphicsView:
    scene = QGraphicsScene()
    height, width = pixels.shape[:2]
    scene.addItem(QGraphicsPixmapItem(QPixmap.fromImage(qimage_from_array(pixels))))
    for k, points in enumerate(polygons):
        item = QGraphicsPolygonItem(QPolygonF([QPointF(x, y) for x, y in points.tolist()]))
        color = QColor(COLORS[k % len(COLORS)])
        pen = QPen(color, 1.5)
        pen.setCosmetic(True)
        item.setPen(pen)
        fill = QColor(color)
        fill.setAlpha(72)
        item.setBrush(QBrush(fill))
        scene.addItem(item)
    margin = 0.25 * max(width, height)
    scene.setSceneRect(QRectF(-margin, -margin, width + 2 * margin, height + 2 * margin))
    view = QGraphicsView(scene)
    view.keep_scene_alive = scene  # QGraphicsView does not own its scene
    view.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.SmoothPixmapTransform)
    view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    view.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    view.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
    view.resize(VIEW_W, VIEW_H)
    return view


def our_view(pixels: np.ndarray, polygons: list[np.ndarray]) -> CanvasView:
    view = CanvasView()
    view.resize(VIEW_W, VIEW_H)
    height, width = pixels.shape[:2]
    pyramid = Pyramid(pixels)
    pyramid.build_all()
    view.set_image(pyramid, (height, width))
    shapes = [
        build_render_shape(Annotation(k + 1, 1, k % len(COLORS) + 1, Polygon.from_points(points)), COLORS[k % len(COLORS)])
        for k, points in enumerate(polygons)
    ]
    view.shape_layer.set_shapes(shapes, {s.annotation_id: 0 for s in shapes})
    return view


def settle_time_ms(app: QApplication, view: CanvasView) -> float:
    """After a zoom step to a zoom level never shown before: ms until every visible tile is
    sharp, with the event loop running as in the app."""
    apply(view, ("zoom", 1.1, 0.5, 0.5))
    start = time.perf_counter()
    view.viewport().repaint()
    layer = view.shape_layer
    while True:
        pump_until(app, time.perf_counter() + 0.002)
        i0, j0, i1, j1 = layer._tile_range(view.visible_image_rect().intersected(layer.boundingRect()), view.scale_factor())
        tiles = layer._tiles.get(round(math.log2(view.scale_factor()), 5), {})
        if all((i, j) in tiles for i in range(i0, i1 + 1) for j in range(j0, j1 + 1)):
            break
    view.viewport().repaint()
    return (time.perf_counter() - start) * 1000.0


def stats(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(math.ceil(0.95 * len(ordered))) - 1)]
    return statistics.median(ordered), p95


def bench_count(app: QApplication, pixels: np.ndarray, count: int, frames: int, naive_frames: int) -> dict:
    polygons = make_polygons(count, IMAGE_W, IMAGE_H)
    ops = frame_script(frames)
    t0 = time.perf_counter()
    ours = our_view(pixels, polygons)
    build_ours = time.perf_counter() - t0
    ours.show()
    fit(ours, IMAGE_W, IMAGE_H)
    app.processEvents()
    ours.viewport().repaint()  # first paint (shapes load): not a pan/zoom frame
    CPU_TIMES.clear()
    ours_times = run_frames(app, ours, ops)
    ours_cpu = stats(CPU_TIMES)
    fit(ours, IMAGE_W, IMAGE_H)
    ours.viewport().repaint()
    app.processEvents()
    settle = settle_time_ms(app, ours)
    tiles = ours.shape_layer.tiles_rendered
    ours.close()

    t0 = time.perf_counter()
    naive = naive_view(pixels, polygons)
    build_naive = time.perf_counter() - t0
    naive.show()
    fit(naive, IMAGE_W, IMAGE_H)
    app.processEvents()
    naive.viewport().repaint()
    CPU_TIMES.clear()
    naive_times = run_frames(app, naive, ops[:naive_frames])
    naive_cpu = stats(CPU_TIMES)
    naive.close()
    naive.scene().clear()
    return {
        "count": count, "ours": stats(ours_times), "naive": stats(naive_times), "settle_ms": settle,
        "build_ours_s": build_ours, "build_naive_s": build_naive, "tiles": tiles,
        "frames": (len(ours_times), len(naive_times)), "cpu": (ours_cpu, naive_cpu),
    }


def bench_large(app: QApplication, frames: int) -> None:
    width, height = 20_000, 15_000
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "large.jpg"
        import cv2

        t0 = time.perf_counter()
        cv2.imwrite(str(path), make_image(width, height, seed=3)[:, :, :3], [cv2.IMWRITE_JPEG_QUALITY, 90])
        print(f"\nlarge image: wrote a {width} x {height} JPEG ({path.stat().st_size / 1e6:.0f} MB) "
              f"in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        display = decode_image(path)
        decoded = time.perf_counter() - t0
        pyramid = Pyramid(display.pixels)
        t0 = time.perf_counter()
        pyramid.build_all()
        built = time.perf_counter() - t0
        print(f"  decode {decoded:.2f} s, pyramid ({pyramid.level_count} levels) {built:.2f} s"
              " — both in the decode thread in the app;"
              " the window stays responsive and shapes are editable meanwhile")
        view = CanvasView()
        view.resize(VIEW_W, VIEW_H)
        view.set_image(pyramid, (height, width))
        polygons = make_polygons(5000, width, height, seed=5)
        shapes = [build_render_shape(Annotation(k + 1, 1, 1, Polygon.from_points(p)), COLORS[k % 5])
                  for k, p in enumerate(polygons)]
        view.shape_layer.set_shapes(shapes, {s.annotation_id: 0 for s in shapes})
        view.show()
        fit(view, width, height)
        app.processEvents()
        view.viewport().repaint()
        script = frame_script(frames, seed=11)
        median_fit, p95_fit = stats(run_frames(app, view, script))
        view.zoom_1to1()
        view.viewport().repaint()
        app.processEvents()
        median_1, p95_1 = stats(run_frames(app, view, [op for op in script if op[0] == "pan"]))
        print(f"  pan/zoom from fit (5,000 polygons): median {median_fit:.1f} ms, p95 {p95_fit:.1f} ms")
        print(f"  pan at 1:1: median {median_1:.1f} ms, p95 {p95_1:.1f} ms")
        view.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[5000, 20000])
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--naive-frames", type=int, default=24, help="frames for the naive design (it is slow)")
    parser.add_argument("--large", action="store_true", help="also open and pan a 20,000 x 15,000 image")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    pixels = make_image(IMAGE_W, IMAGE_H)
    goals = {5000: 16.7, 20000: 33.0}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"canvas pan/zoom frame times, {IMAGE_W} x {IMAGE_H} image, {VIEW_W} x {VIEW_H} view fitted to the image; "
          f"input at 60 Hz; load average {load:.1f} on {os.cpu_count()} CPUs")
    print(f"{'polygons':>9} | {'ours median':>11} {'p95':>7} | {'naive median':>12} {'p95':>7} | "
          f"{'ratio med':>9} {'p95':>6} | settle  | goal p95")
    for count in args.counts:
        result = bench_count(app, pixels, count, args.frames, args.naive_frames)
        om, op95 = result["ours"]
        nm, np95 = result["naive"]
        goal = goals.get(count)
        verdict = "" if goal is None else f"<= {goal} ms {'met' if op95 <= goal else 'MISSED'}"
        print(
            f"{count:>9} | {om:>9.1f}ms {op95:>5.1f}ms | {nm:>10.1f}ms {np95:>5.1f}ms | "
            f"{nm / om:>8.1f}x {np95 / op95:>5.1f}x | {result['settle_ms']:>5.0f}ms | {verdict}"
        )
        (ocm, ocp), (ncm, ncp) = result["cpu"]
        print(f"{'':>9}   GUI-thread CPU per frame: ours median {ocm:.1f} ms p95 {ocp:.1f} ms, "
              f"naive median {ncm:.1f} ms p95 {ncp:.1f} ms")
        print(f"{'':>9}   frames {result['frames'][0]} ours / {result['frames'][1]} naive; tiles rendered {result['tiles']}; "
              f"scene build {result['build_ours_s']:.2f} s ours / {result['build_naive_s']:.2f} s naive")
    if args.large:
        bench_large(app, args.frames)
    return 0


if __name__ == "__main__":
    sys.exit(main())
