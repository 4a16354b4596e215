"""PQ against cityscapesscripts' evaluatePanoptic (a copy of panopticapi) on the COCO panoptic
sample with a perturbed prediction."""

from __future__ import annotations

import contextlib
import io
import json
import math

import numpy as np
import pytest
from PIL import Image

from annotations.errors import MetricsError
from annotations.metrics.panoptic import PanopticAccumulator, panoptic_quality, pq_from_files, rgb_to_id

SAMPLE = "coco_panoptic_sample/sample_data"


def _id_to_rgb(ids: np.ndarray) -> np.ndarray:
    return np.stack([ids % 256, ids // 256 % 256, ids // 65536 % 256], axis=-1).astype(np.uint8)


def _perturb(gt_map: np.ndarray, segments: list[dict], categories: list[dict], seed: int):
    """A prediction with shifted, relabeled, missing, cropped and extra segments."""
    rng = np.random.default_rng(seed)
    pred = gt_map.copy()
    info = {s["id"]: s["category_id"] for s in segments}
    crowd = [s for s in segments if s["iscrowd"]]
    normal = sorted((s for s in segments if not s["iscrowd"]), key=lambda s: s["id"])
    thing_ids = [c["id"] for c in categories if c["isthing"]]
    for k, s in enumerate(normal):
        mask = gt_map == s["id"]
        action = k % 5
        if action == 1:  # shifted
            pred[mask] = 0
            pred[np.roll(mask, int(rng.integers(3, 15)), axis=1)] = s["id"]
        elif action == 2:  # wrong class
            info[s["id"]] = int(rng.choice([c for c in thing_ids if c != s["category_id"]]))
        elif action == 3:  # missed: void
            pred[mask] = 0
        elif action == 4:  # only the top part
            rows = np.flatnonzero(mask.any(axis=1))
            cut = rows[0] + int(len(rows) * rng.uniform(0.3, 0.7))
            part = mask.copy()
            part[cut:] = False
            pred[mask & ~part] = 0
    next_id = 1 + int(gt_map.max())
    for s in crowd:  # a same-category prediction inside each crowd region: ignored, not an FP
        mask = gt_map == s["id"]
        pred[mask] = next_id
        info[next_id] = s["category_id"]
        next_id += 1
    h, w = gt_map.shape
    pred[: h // 6, : w // 6] = next_id  # an extra segment
    info[next_id] = thing_ids[0]
    present = [int(v) for v in np.unique(pred) if v != 0]
    return pred, [{"id": i, "category_id": int(info[i]), "iscrowd": 0} for i in present]


@pytest.fixture(scope="module")
def perturbed(shared_data, tmp_path_factory):
    root = shared_data / SAMPLE
    gt = json.loads((root / "panoptic_examples.json").read_text())
    out = tmp_path_factory.mktemp("pq")
    pred_folder = out / "pred"
    pred_folder.mkdir()
    annotations = []
    for index, ann in enumerate(gt["annotations"]):
        gt_map = rgb_to_id(np.array(Image.open(root / "panoptic_examples" / ann["file_name"]).convert("RGB")))
        pred, segments = _perturb(gt_map, ann["segments_info"], gt["categories"], seed=index)
        Image.fromarray(_id_to_rgb(pred)).save(pred_folder / ann["file_name"])
        annotations.append({"image_id": ann["image_id"], "file_name": ann["file_name"], "segments_info": segments})
    pred_json = out / "pred.json"
    pred_json.write_text(json.dumps({"annotations": annotations, "categories": gt["categories"]}))
    return root / "panoptic_examples.json", root / "panoptic_examples", pred_json, pred_folder, out


def test_pq_equals_cityscapes_evaluate_panoptic(perturbed):
    cs = pytest.importorskip("cityscapesscripts.evaluation.evalPanopticSemanticLabeling")
    gt_json, gt_folder, pred_json, pred_folder, out = perturbed
    with contextlib.redirect_stdout(io.StringIO()):
        expected = cs.evaluatePanoptic(str(gt_json), str(gt_folder), str(pred_json), str(pred_folder),
                                       str(out / "cs_results.json"))
    ours = pq_from_files(gt_json, gt_folder, pred_json, pred_folder)
    for ours_part, name in ((ours.all, "All"), (ours.things, "Things"), (ours.stuff, "Stuff")):
        for key in ("pq", "sq", "rq", "n"):
            assert ours_part[key] == pytest.approx(expected[name][key], abs=1e-12), (name, key)
    assert 0.1 < ours.all["pq"] < 0.9  # the perturbation is visible
    assert ours.all["n"] >= 10
    for cid, stat in ours.per_class.items():
        ref = expected["per_class"][cid]
        if stat.tp + stat.fp + stat.fn == 0:
            assert math.isnan(stat.pq) and ref["pq"] == 0.0  # panopticapi writes 0 and skips it
        else:
            assert stat.pq == pytest.approx(ref["pq"], abs=1e-12)
            assert stat.sq == pytest.approx(ref["sq"], abs=1e-12)


def test_perfect_prediction_is_pq_1(shared_data):
    root = shared_data / SAMPLE
    gt = json.loads((root / "panoptic_examples.json").read_text())
    categories = {c["id"]: bool(c["isthing"]) for c in gt["categories"]}
    pairs = []
    for ann in gt["annotations"]:
        m = rgb_to_id(np.array(Image.open(root / "panoptic_examples" / ann["file_name"]).convert("RGB")))
        crowd = [s["id"] for s in ann["segments_info"] if s["iscrowd"]]
        pred = np.where(np.isin(m, crowd), 0, m)  # crowd regions left void in the prediction
        pairs.append((m, ann["segments_info"], pred, [s for s in ann["segments_info"] if not s["iscrowd"]]))
    result = panoptic_quality(pairs, categories)
    assert result.all["pq"] == pytest.approx(1.0) and result.things["rq"] == pytest.approx(1.0)


def test_undefined_and_bad_input():
    acc = PanopticAccumulator({1: True, 2: False})
    empty = acc.result()
    assert math.isnan(empty.all["pq"]) and empty.all["n"] == 0
    gt = np.zeros((4, 4), dtype=np.uint32)
    with pytest.raises(MetricsError, match="sizes differ"):
        acc.add(gt, [], np.zeros((4, 5), dtype=np.uint32), [])
    with pytest.raises(MetricsError, match="in the PNG but not in the JSON"):
        acc.add(gt, [], np.ones((4, 4), dtype=np.uint32), [])
    with pytest.raises(MetricsError, match="unknown category"):
        acc.add(gt, [], np.ones((4, 4), dtype=np.uint32), [{"id": 1, "category_id": 9}])


def test_pq_from_files_reads_nothing_outside_the_prediction_folder(perturbed, tmp_path):
    """A prediction file that names a PNG outside its folder (``../``) is refused with the image
    named, not read."""
    gt_json, gt_folder, pred_json, pred_folder, _ = perturbed
    outside = pred_folder.parent / "outside.png"
    first = next(p for p in sorted(pred_folder.iterdir()))
    outside.write_bytes(first.read_bytes())  # a readable PNG: only the path rule can refuse it
    data = json.loads(pred_json.read_text())
    data["annotations"][0]["file_name"] = "../outside.png"
    escaped = tmp_path / "escaped.json"
    escaped.write_text(json.dumps(data))
    with pytest.raises(MetricsError, match="leads outside"):
        pq_from_files(gt_json, gt_folder, escaped, pred_folder)
