"""SAM 2.1 through SegStudio's loader and predictor vs. the official ``SAM2ImagePredictor``.

Weights cannot be downloaded here, so a SAM 2.1 tiny is built from the official config with
seeded random weights and saved in the official checkpoint layout (``{"model": state_dict}``);
the official builder and SegStudio's loader each read that file. With random weights the masks
mean nothing, but they are non-trivial (checked), so equal masks show that loading, the image
transform, the prompt transforms and the mask post-processing match the official code.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from engine_fixtures import bool_iou as iou

pytest.importorskip("sam2", reason="the official sam2 package is not installed (SAM2_BUILD_CUDA=0 pip install sam2)")
torch = pytest.importorskip("torch")

from engine.errors import EngineInputError  # noqa: E402 - after the importorskip of sam2 and torch
from engine.sam.cache import EmbeddingCache, Window  # noqa: E402 - after the importorskip of sam2 and torch
from engine.sam.catalog import find_model  # noqa: E402 - after the importorskip of sam2 and torch
from engine.sam.model import build_network, save_checkpoint  # noqa: E402 - after the importorskip of sam2 and torch
from engine.sam.predictor import SamPredictor  # noqa: E402 - after the importorskip of sam2 and torch

TINY = "sam2.1_hiera_tiny"


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("sam") / "sam2.1_hiera_tiny.pt"
    save_checkpoint(build_network(find_model(TINY)), path)
    return path


@pytest.fixture(scope="module")
def photo(shared_data: Path) -> np.ndarray:
    """A real photo (a balloon), downscaled to 320 px wide to keep the test short."""
    folder = shared_data / "balloon_via" / "val"
    entry = next(iter(json.loads((folder / "via_region_data.json").read_text()).values()))
    bgr = cv2.imread(str(folder / entry["filename"]))
    scale = 320 / bgr.shape[1]
    return np.ascontiguousarray(cv2.cvtColor(cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA),
                                             cv2.COLOR_BGR2RGB))


PROMPTS = {
    "box": {"box": (60.0, 40.0, 230.0, 190.0), "pos": [], "neg": []},
    "points": {"box": None, "pos": [(150.0, 110.0), (120.0, 90.0)], "neg": [(20.0, 200.0)]},
    "box+points": {"box": (60.0, 40.0, 230.0, 190.0), "pos": [(150.0, 110.0)], "neg": [(70.0, 50.0)]},
}


def test_masks_equal_the_official_predictor(tiny_checkpoint: Path, photo: np.ndarray) -> None:
    from sam2.build_sam import build_sam2
    from sam2.sam2_image_predictor import SAM2ImagePredictor

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    official = SAM2ImagePredictor(build_sam2(find_model(TINY).config, str(tiny_checkpoint), device="cpu"))
    official.set_image(photo)
    ours = SamPredictor.from_weights(TINY, tiny_checkpoint)
    ours.set_image(photo)
    height, width = photo.shape[:2]
    for name, prompt in PROMPTS.items():
        points = [*prompt["pos"], *prompt["neg"]]
        labels = [1] * len(prompt["pos"]) + [0] * len(prompt["neg"])
        ref_masks, ref_scores, ref_low = official.predict(
            point_coords=np.array(points) if points else None, point_labels=np.array(labels) if points else None,
            box=np.array(prompt["box"]) if prompt["box"] is not None else None, multimask_output=True)
        answer = ours.predict(box_xyxy=prompt["box"], positive=prompt["pos"], negative=prompt["neg"])
        order = np.argsort(-ref_scores, kind="stable")
        assert answer.masks.shape == (3, height, width) and answer.masks.dtype == bool
        np.testing.assert_allclose(answer.scores, ref_scores[order], atol=1e-4)
        for ours_mask, ref_mask in zip(answer.masks, ref_masks[order].astype(bool)):
            # Non-trivial masks, else equality would prove nothing.
            print(f"{name}: mask covers {ref_mask.mean():.1%} of the image, IoU {iou(ours_mask, ref_mask):.4f}")
            assert 0.001 < ref_mask.mean() < 0.999, name
            assert iou(ours_mask, ref_mask) >= 0.99, name
        # The previous answer's logits as a refinement prompt (the official ``mask_input``).
        ref_refined, _, _ = official.predict(
            point_coords=np.array(points) if points else None, point_labels=np.array(labels) if points else None,
            box=np.array(prompt["box"]) if prompt["box"] is not None else None,
            mask_input=ref_low[order[0]][None], multimask_output=False)
        refined = ours.predict(box_xyxy=prompt["box"], positive=prompt["pos"], negative=prompt["neg"],
                               mask_input=answer.low_res_logits[0], multimask=False)
        assert refined.masks.shape == (1, height, width)
        assert iou(refined.masks[0], ref_refined[0].astype(bool)) >= 0.99, name


def test_refuses_a_checkpoint_that_does_not_fit(tmp_path: Path, tiny_checkpoint: Path) -> None:
    state = torch.load(tiny_checkpoint, weights_only=True)["model"]
    state.pop(next(iter(state)))
    broken = tmp_path / "broken.pt"
    torch.save({"model": state}, broken)
    with pytest.raises(EngineInputError, match="broken.pt"):
        SamPredictor.from_weights(TINY, broken)
    torch.save(state, tmp_path / "flat.pt")  # not the official layout
    with pytest.raises(EngineInputError, match="flat.pt"):
        SamPredictor.from_weights(TINY, tmp_path / "flat.pt")
    with pytest.raises(EngineInputError, match="weights fetch"):
        SamPredictor.from_weights(TINY, tmp_path / "missing.pt")


def test_large_image_answers_from_a_window_around_the_prompt(tiny_checkpoint: Path) -> None:
    """A 20,000 x 15,000 image (a zero-copy broadcast view: the predictor never copies it whole);
    the whole-image embedding is deferred to keep the test short."""
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    tile = np.zeros((15_000, 1, 3), np.uint8)
    tile[7000:7400] = 200
    huge = np.broadcast_to(tile, (15_000, 20_000, 3))
    predictor = SamPredictor.from_weights(TINY, tiny_checkpoint, cache=EmbeddingCache())
    assert predictor.set_image(huge, image_key="huge", embed=False) == 0.0
    answer = predictor.predict(box_xyxy=(9_000.0, 6_900.0, 9_400.0, 7_500.0))
    assert answer.window != Window(0, 0, 20_000, 15_000)
    assert max(answer.window.size_hw) < 2_000 and answer.window.x1 <= 9_000 and answer.window.x2 >= 9_400
    assert answer.window_masks.shape[1:] == answer.window.size_hw
    # A click inside the same window reuses its embedding (no encoder pass).
    again = predictor.predict(box_xyxy=(9_000.0, 6_900.0, 9_400.0, 7_500.0), positive=[(9_200.0, 7_200.0)])
    assert again.window == answer.window and again.embedding_seconds == 0.0
    assert len(predictor.cache) == 1  # one window, never the whole image


def test_segment_job_sam_prefetch_candidates_and_cli(blob_project: Path, tiny_checkpoint: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """The interactive lane: prepare image 3 and prefetch image 4, then a box on image 4 answers
    from the prefetched embedding with SAM's three candidates; the CLI writes the mask."""
    import main
    from annotations.geometry import Mask, rle
    from engine.jobs.segment import run_segment
    from engine.protocol import Segment, SegmentMethod

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    weights = str(tiny_checkpoint)
    messages: list[str] = []
    prepared = run_segment(Segment(str(blob_project), 3, method=SegmentMethod.SAM, sam_weights_file=weights,
                                   prepare_only=True, prefetch_image_ids=(4, 99)),
                           progress=lambda done, total, message="", metrics=None: messages.append(message))
    assert prepared.method is SegmentMethod.SAM and prepared.counts == b"" and prepared.embedding_ms > 0
    assert messages == ["embedding ready: image 3", "embedding ready: image 4"]  # unknown id 99 skipped
    box = (20.0, 20.0, 70.0, 70.0)
    answer = run_segment(Segment(str(blob_project), 4, box_xyxy=box, method=SegmentMethod.SAM, sam_weights_file=weights))
    assert answer.method is SegmentMethod.SAM and answer.model == TINY and answer.embedding_ms == 0.0
    assert len(answer.alternatives) == 2 and len(answer.scores) == 3
    assert list(answer.scores) == sorted(answer.scores, reverse=True)
    assert answer.size == (96, 128) and all(rle.area(Mask(answer.size, c)) > 0 for c in (answer.counts, *answer.alternatives))
    # A click added to the box: one mask (SAM's advice for unambiguous prompts), previous mask as a prompt.
    refined = run_segment(Segment(str(blob_project), 4, box_xyxy=box, positive_points=((45.0, 45.0),),
                                  method=SegmentMethod.SAM, sam_weights_file=weights))
    assert refined.alternatives == () and len(refined.scores) == 1
    out = tmp_path / "mask.png"
    code = main.main(["segment", str(blob_project), "--image", "4", "--box", "20", "20", "70", "70", "--method", "sam",
                      "--sam-weights", weights, "--candidate", "1", "--out", str(out)])
    assert code == 0 and "sam (sam2.1_hiera_tiny)" in capsys.readouterr().out
    written = cv2.imread(str(out), cv2.IMREAD_GRAYSCALE)
    np.testing.assert_array_equal(written > 0, rle.decode(Mask(answer.size, answer.alternatives[0])))


def test_sam_without_weights(blob_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    """SAM asked for without a weight file: a clear error (exit 2 in the CLI); AUTO answers with GrabCut."""
    import main
    from engine.jobs.segment import run_segment
    from engine.protocol import Segment, SegmentMethod

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))
    with pytest.raises(EngineInputError, match="weights fetch sam2.1_hiera_tiny"):
        run_segment(Segment(str(blob_project), 3, box_xyxy=(10.0, 10.0, 60.0, 60.0), method=SegmentMethod.SAM))
    auto = run_segment(Segment(str(blob_project), 3, box_xyxy=(10.0, 10.0, 60.0, 60.0)))
    assert auto.method is SegmentMethod.GRABCUT and auto.alternatives == ()
    code = main.main(["segment", str(blob_project), "--image", "3", "--point", "12;40", "--out", str(tmp_path / "m.png")])
    assert code == 2 and "--point '12;40'" in capsys.readouterr().err



def test_regrouped_decoder_equals_the_official_mask_decoder() -> None:
    """engine.sam.sam2_decoder (image side kept per image, products regrouped, channels last) gives
    the official SAM 2 MaskDecoder's logits and IoU predictions: box + points prompts, three masks
    and one (chosen by stability, as the official module does), and a previous mask as the prompt
    (entering as a low-rank change of the kept image side)."""
    from engine.sam import sam1_decoder, sam2_decoder

    torch.manual_seed(5)
    network = build_network(find_model(TINY)).eval()
    encoder, decoder = network.sam_prompt_encoder, network.sam_mask_decoder
    with torch.no_grad():
        image_embed = torch.randn(1, 256, 64, 64)
        feat_s0, feat_s1 = torch.randn(1, 32, 256, 256), torch.randn(1, 64, 128, 128)
        pe = encoder.get_dense_pe()
        kept = sam1_decoder.KeptImage(decoder, encoder, pe)
        owner = object()
        high_res = kept.high_res(owner, feat_s0, feat_s1)
        prompts = [
            (torch.tensor([[[100.0, 120.0], [600.0, 500.0]]]), torch.tensor([[2, 3]])),
            (torch.tensor([[[150.0, 200.0], [400.0, 100.0]]]), torch.tensor([[1, 0]])),
            (torch.tensor([[[100.0, 120.0], [600.0, 500.0], [150.0, 200.0]]]), torch.tensor([[2, 3, 1]])),
        ]
        previous = torch.randn(1, 1, 256, 256)
        for points in prompts:
            for masks_in in (None, previous):
                sparse, dense = encoder(points=points, boxes=None, masks=masks_in)
                _, no_mask_dense = encoder(points=points, boxes=None, masks=None)
                mask = None if masks_in is None else sam1_decoder.mask_features(encoder, masks_in)
                side = kept.side(owner, image_embed, no_mask_dense, mask)
                for multimask in (True, False):
                    official = decoder(image_embeddings=image_embed, image_pe=pe, sparse_prompt_embeddings=sparse,
                                       dense_prompt_embeddings=dense, multimask_output=multimask, repeat_image=False,
                                       high_res_features=[feat_s0, feat_s1])
                    ours = sam2_decoder.decode(decoder, side, sparse, multimask, high_res)
                    assert ours[0].shape == official[0].shape == (1, 3 if multimask else 1, 256, 256)
                    assert torch.allclose(ours[0], official[0], atol=1e-4), (multimask, masks_in is None)
                    assert torch.allclose(ours[1], official[1], atol=1e-5)
