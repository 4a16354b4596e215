"""``main.py review`` end to end (in-process through main.main)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import main
from annotations.geometry import Box
from annotations.model import Annotation, Category, Image, ImageStatus, ModelVersion, Prediction, accept_prediction
from annotations.store import Project

FAKE100 = "coco_eval_val2014_fake100"


@pytest.mark.parametrize(("iou_type", "results"), [("segm", "instances_val2014_fakesegm100_results.json"),
                                               ("bbox", "instances_val2014_fakebbox100_results.json")])
def test_review_gt_dt_reproduces_expected_stats(shared_data, tmp_path: Path, iou_type, results, capsys):
    folder = shared_data / FAKE100
    out = tmp_path / "out.json"
    code = main.main(["review", "--gt", str(folder / "instances_val2014_100.json"), "--dt", str(folder / results),
                      "--iou-type", iou_type, "--json", str(out), "--no-boundary"])
    assert code == 0
    expected = json.loads((folder / "expected_stats.json").read_text())[iou_type]
    report = json.loads(out.read_text())
    np.testing.assert_allclose(list(report["coco"].values()), expected, rtol=0, atol=1e-9)
    assert "AP=" in capsys.readouterr().out


def test_review_project_modes(tmp_path: Path, capsys):
    cats = [Category(1, "cell", "#e6194b")]
    a = Project.create(tmp_path / "a.segproj", cats)
    (img,) = a.add_images([Image(0, "x.png", 50, 40, ImageStatus.DONE)])
    mv = a.add_model_version(ModelVersion(0, "unet", (1,)))
    (pred,) = a.add_predictions([Prediction(0, img.id, 1, Box(5, 5, 20, 20), 0.9, mv.id)])
    a.execute(accept_prediction(pred))
    a.add_annotations([Annotation(0, img.id, 1, Box(25, 25, 35, 35))])
    a.close()
    b = Project.create(tmp_path / "b.segproj", cats)
    b.add_images([Image(0, "x.png", 50, 40)])
    b.add_annotations([Annotation(0, 1, 1, Box(5, 5, 20, 20))])
    b.close()
    out, page = tmp_path / "mvf.json", tmp_path / "mvf.html"
    assert main.main(["review", str(tmp_path / "a.segproj"), "--json", str(out), "--html", str(page)]) == 0
    data = json.loads(out.read_text())
    assert data["kind"] == "model_vs_final" and data["model_outcomes"]["totals"]["accepted_unchanged"] == 1
    assert data["model_outcomes"]["totals"]["missed"] == 1
    assert page.read_text().startswith("<!doctype html>")
    out2 = tmp_path / "pvp.json"
    assert main.main(["review", str(tmp_path / "a.segproj"), "--against", str(tmp_path / "b.segproj"),
                      "--json", str(out2)]) == 0
    data = json.loads(out2.read_text())
    assert data["kind"] == "project_vs_project" and data["summary"]["tp"] == 1 and data["summary"]["fp"] == 0


@pytest.mark.parametrize(("argv", "message"), [
    (["review"], "PROJECT"),
    (["review", "nope.segproj"], "no such project"),
    (["review", "--gt", "missing.json", "--dt", "missing2.json"], "cannot read"),
    (["review", "--gt", "g.json", "--dt", "d.json", "--iou-threshold", "2"], "iou-threshold"),
])
def test_bad_input_exits_2_with_a_message(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main.main(argv) == 2
    assert message in capsys.readouterr().err


def test_results_on_unknown_image_exit_2(tmp_path: Path, capsys):
    gt = {"images": [{"id": 1, "width": 10, "height": 10}], "annotations": [], "categories": [{"id": 1, "name": "a"}]}
    dt = [{"image_id": 2, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 1.0}]
    (tmp_path / "g.json").write_text(json.dumps(gt))
    (tmp_path / "d.json").write_text(json.dumps(dt))
    assert main.main(["review", "--gt", str(tmp_path / "g.json"), "--dt", str(tmp_path / "d.json"),
                      "--iou-type", "bbox"]) == 2
    assert "image 2" in capsys.readouterr().err
