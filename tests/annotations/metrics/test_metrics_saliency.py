"""Saliency measures against the reference implementation ``pysodmetrics`` on real data.

Real masks and soft maps from ``../shared/data/isbi2012_membrane`` (label 0 = membrane, so the
foreground mask is ``label == 0``):
- the U-Net probability maps (16-bit PNG of the cell probability, so membrane probability =
  1 - value / 65535) of the test slices; the test slices have no labels, so map i is paired with
  training label i (down-sampled 2x to the maps' 256x256) — a fair input for equality, not a
  quality figure;
- the training slices' own intensity as a soft membrane map (1 - gray / 255; membranes are dark),
  paired with their real labels;
- hard masks: the labels shifted by a few pixels, and the maps thresholded.

``pysodmetrics`` pins numpy < 2.3.5 and opencv < 5, so it is installed with ``--no-deps`` (with
scipy, scikit-image and scikit-learn, which it imports); without it these tests skip.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

from annotations.errors import MetricsError
from annotations.metrics.saliency import (
    FBETA_SQUARED,
    image_saliency,
    prepare_uint8,
    saliency_summary,
)

sod = pytest.importorskip("py_sod_metrics",
                          reason="pysodmetrics (the reference) is not installed: pip install --no-deps pysodmetrics")

N_IMAGES = 6
TOL = 1e-6


def _membrane(shared_data: Path) -> Path:
    folder = shared_data / "isbi2012_membrane"
    if not folder.is_dir():
        pytest.skip(f"{folder} is missing")
    return folder


def unet_pairs(shared_data: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    folder = _membrane(shared_data)
    pairs = []
    for i in range(N_IMAGES):
        prob_cell = np.array(PILImage.open(folder / "test_unet_predictions" / f"{i}_predict.png")).astype(np.float64) / 65535
        label = np.array(PILImage.open(folder / "train_label" / f"{i}.png"))[::2, ::2]
        pairs.append((1.0 - prob_cell, label == 0))
    return pairs


def intensity_pairs(shared_data: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    folder = _membrane(shared_data)
    pairs = []
    for i in range(N_IMAGES):
        gray = np.array(PILImage.open(folder / "train_image" / f"{i}.png").convert("L")).astype(np.float64)
        label = np.array(PILImage.open(folder / "train_label" / f"{i}.png"))
        pairs.append((1.0 - gray / 255, label == 0))
    return pairs


def _reference(pairs: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, Any]:
    """pysodmetrics on float maps (``normalize=False``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Fmeasure is deprecated in favour of FmeasureV2
        fm, mae, sm, em, wfm = sod.Fmeasure(), sod.MAE(), sod.Smeasure(), sod.Emeasure(), sod.WeightedFmeasure()
    binary = sod.FmeasureV2({
        "p": sod.PrecisionHandler(False, False, with_binary=True),
        "r": sod.RecallHandler(False, False, with_binary=True),
        "f": sod.FmeasureHandler(False, False, with_binary=True, beta=FBETA_SQUARED),
    })
    em_binary = sod.Emeasure()
    per_image = []
    for pred, gt in pairs:
        for metric in (fm, mae, sm, em, wfm, binary):
            metric.step(pred, gt, normalize=False)
        em_binary.step((pred > 0.5).astype(np.float64), gt, normalize=False)
        per_image.append({"mae": mae.maes[-1], "s_measure": sm.sms[-1], "weighted_fbeta": wfm.weighted_fms[-1],
                          "fbeta_adaptive": fm.adaptive_fms[-1], "e_adaptive": em.adaptive_ems[-1],
                          "fbeta_curve": fm.changeable_fms[-1], "e_curve": em.changeable_ems[-1],
                          "e_measure": em_binary.changeable_ems[-1][0]})
    f, e, b = fm.get_results()["fm"], em.get_results()["em"], binary.get_results()
    overall = {"fbeta_max": f["curve"].max(), "fbeta_mean": f["curve"].mean(), "fbeta_adaptive": f["adp"],
               "e_max": e["curve"].max(), "e_mean": e["curve"].mean(), "e_adaptive": e["adp"],
               "mae": mae.get_results()["mae"], "s_measure": sm.get_results()["sm"],
               "weighted_fbeta": wfm.get_results()["wfm"], "precision": b["p"]["binary"],
               "recall": b["r"]["binary"], "fbeta": b["f"]["binary"],
               "e_measure": em_binary.get_results()["em"]["curve"][0]}
    return {"overall": overall, "per_image": per_image}


def _compare(pairs: list[tuple[np.ndarray, np.ndarray]]) -> None:
    ours = saliency_summary([p for p, _ in pairs], [g for _, g in pairs])
    reference = _reference(pairs)
    for key, value in reference["overall"].items():
        assert getattr(ours, key) == pytest.approx(float(value), abs=TOL), key
    for row, ref in zip(ours.per_image, reference["per_image"]):
        for key, value in ref.items():
            got = getattr(row, key)
            if isinstance(value, np.ndarray):
                np.testing.assert_allclose(got, value, atol=TOL, rtol=0, err_msg=key)
            else:
                assert got == pytest.approx(float(value), abs=TOL), key


def test_unet_probability_maps_equal_pysodmetrics(shared_data: Path) -> None:
    pairs = unet_pairs(shared_data)
    _compare(pairs)
    summary = saliency_summary([p for p, _ in pairs], [g for _, g in pairs])
    assert summary.soft and summary.images == N_IMAGES
    assert summary.fbeta_adaptive is not None and summary.fbeta_max is not None  # soft maps have both
    assert 0 < summary.fbeta_adaptive < summary.fbeta_max <= 1


def test_intensity_soft_maps_equal_pysodmetrics(shared_data: Path) -> None:
    _compare(intensity_pairs(shared_data))


def test_hard_masks_equal_pysodmetrics_and_have_no_soft_variants(shared_data: Path) -> None:
    pairs = [(np.roll(gt, 3, axis=1), gt) for _, gt in intensity_pairs(shared_data)]
    ours = saliency_summary([p for p, _ in pairs], [g for _, g in pairs])
    assert not ours.soft and ours.fbeta_max is None and ours.per_image[0].fbeta_curve is None
    reference = _reference([(p.astype(np.float64), g) for p, g in pairs])["overall"]
    for key in ("precision", "recall", "fbeta", "mae", "s_measure", "weighted_fbeta", "e_measure"):
        assert getattr(ours, key) == pytest.approx(float(reference[key]), abs=TOL), key
    assert ours.precision < 1  # the shift is measured as an error


def test_uint8_files_are_read_like_the_toolboxes(shared_data: Path) -> None:
    folder = _membrane(shared_data)
    pred_u8 = np.array(PILImage.open(folder / "train_image" / "0.png").convert("L"))
    gt_u8 = 255 - np.array(PILImage.open(folder / "train_label" / "0.png"))  # membrane = 255
    pred, gt = prepare_uint8(pred_u8, gt_u8)
    reference = sod.MAE()
    reference.step(pred_u8, gt_u8)  # normalize=True: pysodmetrics' own reading
    assert image_saliency(pred, gt).mae == pytest.approx(float(reference.maes[0]), abs=TOL)


def test_bad_inputs_are_refused() -> None:
    gt = np.zeros((4, 5), dtype=bool)
    with pytest.raises(MetricsError, match="one size"):
        image_saliency(np.zeros((4, 4)), gt)
    with pytest.raises(MetricsError, match=r"\[0, 1\]"):
        image_saliency(np.full((4, 5), 2.0), gt)
    with pytest.raises(MetricsError, match="bool mask"):
        image_saliency(np.zeros((4, 5)), gt.astype(np.uint8))
    with pytest.raises(MetricsError, match="2 prediction maps for 1"):
        saliency_summary([np.zeros((4, 5)), np.zeros((4, 5))], [gt])
