"""EfficientViT-SAM L0 (the light SAM) through SegStudio's loader and predictor vs. the official
``EfficientViTSamPredictor`` of the ``efficientsam`` package.

Weights cannot be downloaded here, so an L0 is built by the official model zoo with seeded random
weights and saved as the official loader reads it (a plain state dict); the official predictor
and SegStudio's loader each read that file. With random weights the masks mean nothing, but they
are non-trivial (checked), so equal masks show that loading, the image transform (long side 512,
padding), the prompt transforms (1024 frame, box and points apart) and the mask post-processing
(crop of the padded frame) match the official code, on two real photos of different shapes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from engine_fixtures import bool_iou as iou
from weights_server import Server

pytest.importorskip("efficientsam", reason="the official efficientsam package is not installed "
                                           "(pip install --no-deps efficientsam==1.0.0)")
torch = pytest.importorskip("torch")

from engine.errors import EngineInputError, JobCancelled  # noqa: E402 - after the importorskips
from engine.sam.cache import EmbeddingCache  # noqa: E402 - after the importorskips
from engine.sam.catalog import SamFamily, find_model  # noqa: E402 - after the importorskips
from engine.sam.model import build_network, save_checkpoint  # noqa: E402 - after the importorskips
from engine.sam.predictor import SamPredictor  # noqa: E402 - after the importorskips

L0 = "efficientvit_sam_l0"


@pytest.fixture(scope="module")
def l0_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("sam_light") / "efficientvit_sam_l0.pt"
    save_checkpoint(build_network(find_model(L0)), path, SamFamily.EFFICIENTVIT_SAM)
    return path


def _balloon(shared_data: Path) -> np.ndarray:
    """A balloon photo downscaled to 320 px wide (landscape: padded at the bottom)."""
    folder = shared_data / "balloon_via" / "val"
    entry = next(iter(json.loads((folder / "via_region_data.json").read_text()).values()))
    bgr = cv2.imread(str(folder / entry["filename"]))
    assert bgr is not None, entry["filename"]
    scale = 320 / bgr.shape[1]
    small = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(cv2.cvtColor(small, cv2.COLOR_BGR2RGB))


def _pedestrians(shared_data: Path) -> np.ndarray:
    """PennFudan pedestrians at full size (498 x 533: resized down to a 512 long side)."""
    bgr = cv2.imread(str(shared_data / "pennfudan_torchvision_gallery" / "FudanPed00054.png"))
    assert bgr is not None
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


@dataclass(frozen=True)
class Prompt:
    box: tuple[float, float, float, float] | None
    pos: tuple[tuple[float, float], ...] = ()
    neg: tuple[tuple[float, float], ...] = ()


PROMPTS = {
    "balloon": {
        "box": Prompt((60.0, 40.0, 230.0, 190.0)),
        "points": Prompt(None, ((150.0, 110.0), (120.0, 90.0)), ((20.0, 200.0),)),
        "box+points": Prompt((60.0, 40.0, 230.0, 190.0), ((150.0, 110.0),), ((70.0, 50.0),)),
    },
    "pedestrians": {  # the box of the middle pedestrian in the ground-truth mask
        "box": Prompt((286.0, 113.0, 357.0, 331.0)),
        "points": Prompt(None, ((321.0, 222.0),)),
        "box+points": Prompt((286.0, 113.0, 357.0, 331.0), ((321.0, 160.0),), ((400.0, 220.0),)),
    },
}


def test_masks_equal_the_official_predictor(l0_checkpoint: Path, shared_data: Path) -> None:
    from efficientsam.models.efficientvit.sam import EfficientViTSamPredictor
    from efficientsam.sam_model_zoo import create_efficientvit_sam_model

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    official = EfficientViTSamPredictor(
        create_efficientvit_sam_model("efficientvit-sam-l0", pretrained=True, weight_url=str(l0_checkpoint)).eval())
    ours = SamPredictor.from_weights(L0, l0_checkpoint)
    for image_name, photo in (("balloon", _balloon(shared_data)), ("pedestrians", _pedestrians(shared_data))):
        official.set_image(photo)
        ours.set_image(photo)
        height, width = photo.shape[:2]
        for name, prompt in PROMPTS[image_name].items():
            case = f"{image_name}/{name}"
            points = [*prompt.pos, *prompt.neg]
            labels = [1] * len(prompt.pos) + [0] * len(prompt.neg)
            ref_masks, ref_scores, ref_low = official.predict(
                point_coords=np.array(points) if points else None, point_labels=np.array(labels) if points else None,
                box=np.array(prompt.box) if prompt.box is not None else None, multimask_output=True)
            answer = ours.predict(box_xyxy=prompt.box, positive=prompt.pos, negative=prompt.neg)
            order = np.argsort(-ref_scores, kind="stable")
            assert answer.masks.shape == (3, height, width) and answer.masks.dtype == bool
            np.testing.assert_allclose(answer.scores, ref_scores[order], atol=1e-4)
            for ours_mask, ref_mask in zip(answer.masks, ref_masks[order].astype(bool)):
                # Non-trivial masks, else equality would prove nothing.
                print(f"{case}: mask covers {ref_mask.mean():.1%} of the image, IoU {iou(ours_mask, ref_mask):.4f}")
                assert 0.001 < ref_mask.mean() < 0.999, case
                assert iou(ours_mask, ref_mask) >= 0.99, case
            # The previous answer's logits as a refinement prompt (the official ``mask_input``).
            ref_refined, _, _ = official.predict(
                point_coords=np.array(points) if points else None, point_labels=np.array(labels) if points else None,
                box=np.array(prompt.box) if prompt.box is not None else None,
                mask_input=ref_low[order[0]][None], multimask_output=False)
            refined = ours.predict(box_xyxy=prompt.box, positive=prompt.pos, negative=prompt.neg,
                                   mask_input=answer.low_res_logits[0], multimask=False)
            assert refined.masks.shape == (1, height, width)
            assert iou(refined.masks[0], ref_refined[0].astype(bool)) >= 0.99, case


def test_refuses_a_checkpoint_that_does_not_fit(tmp_path: Path, l0_checkpoint: Path) -> None:
    state = torch.load(l0_checkpoint, weights_only=True)
    torch.save({"state_dict": state}, tmp_path / "wrapped.pt")  # the other layout the official loader reads
    assert SamPredictor.from_weights(L0, tmp_path / "wrapped.pt").spec.name == L0
    state.pop(next(iter(state)))
    torch.save(state, tmp_path / "broken.pt")
    with pytest.raises(EngineInputError, match="broken.pt"):
        SamPredictor.from_weights(L0, tmp_path / "broken.pt")
    torch.save({"model": {"x": torch.zeros(1)}}, tmp_path / "sam2_layout.pt")
    with pytest.raises(EngineInputError, match="sam2_layout.pt"):
        SamPredictor.from_weights(L0, tmp_path / "sam2_layout.pt")
    with pytest.raises(EngineInputError, match="weights fetch efficientvit_sam_l0"):
        SamPredictor.from_weights(L0, tmp_path / "missing.pt")


def test_an_embedding_stops_between_layers_when_asked(l0_checkpoint: Path) -> None:
    """``should_stop`` is asked before every encoder layer: the pass stops early, caches nothing,
    and the next (unhindered) pass works."""
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    predictor = SamPredictor.from_weights(L0, l0_checkpoint, cache=EmbeddingCache())
    rgb = np.full((120, 160, 3), 90, np.uint8)
    asked = 0

    def stop_after_ten() -> bool:
        nonlocal asked
        asked += 1
        return asked > 10

    with pytest.raises(JobCancelled):
        predictor.set_image(rgb, "grey", should_stop=stop_after_ten)
    assert asked == 11 and len(predictor.cache) == 0
    layers = sum(1 for _ in predictor.backend.encoder.modules())
    assert layers > 100  # so 11 checks is early in the pass
    assert predictor.set_image(rgb, "grey", should_stop=lambda: False) > 0
    assert len(predictor.cache) == 1 and asked == 11
    assert predictor.predict(box_xyxy=(20.0, 20.0, 100.0, 90.0)).masks.shape == (3, 120, 160)


def test_segment_job_light_model_interrupted_prefetch_and_cli(blob_project: Path, l0_checkpoint: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """The interactive lane with the light model: a prefetch cancelled while its embedding runs
    stops inside the encoder (nothing cached), and the annotator's box right after answers with
    three candidates; the CLI picks the model by name."""
    import main
    from annotations.geometry import Mask, rle
    from engine.jobs.segment import run_segment
    from engine.protocol import Segment, SegmentMethod
    from engine.sam.lane import LANE

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    weights = str(l0_checkpoint)
    checks = 0

    def cancelled_mid_embedding() -> bool:
        nonlocal checks
        checks += 1
        return checks > 50

    before = len(LANE.cache)
    with pytest.raises(JobCancelled):
        run_segment(Segment(str(blob_project), 4, method=SegmentMethod.SAM, sam_model=L0, sam_weights_file=weights,
                            prepare_only=True), is_cancelled=cancelled_mid_embedding)
    assert checks == 51 and len(LANE.cache) == before  # stopped inside the encoder, nothing cached
    box = (20.0, 20.0, 70.0, 70.0)
    answer = run_segment(Segment(str(blob_project), 3, box_xyxy=box, method=SegmentMethod.SAM, sam_model=L0,
                                 sam_weights_file=weights))
    assert answer.method is SegmentMethod.SAM and answer.model == L0 and answer.embedding_ms > 0
    assert len(answer.scores) == 3 and list(answer.scores) == sorted(answer.scores, reverse=True)
    assert answer.size == (96, 128) and len(answer.alternatives) == 2
    # Random weights: some candidate covers something (which one is chance).
    assert any(rle.area(Mask(answer.size, c)) > 0 for c in (answer.counts, *answer.alternatives))
    out = tmp_path / "mask.png"
    code = main.main(["segment", str(blob_project), "--image", "3", "--box", "20", "20", "70", "70", "--method", "sam",
                      "--sam-model", L0, "--sam-weights", weights, "--out", str(out)])
    assert code == 0 and f"sam ({L0})" in capsys.readouterr().out
    written = cv2.imread(str(out), cv2.IMREAD_GRAYSCALE)
    assert written is not None
    np.testing.assert_array_equal(written > 0, rle.decode(Mask(answer.size, answer.counts)))


def test_every_catalogue_model_is_offered_in_the_gui() -> None:
    pytest.importorskip("PySide6", reason="PySide6 is not installed")
    from app.assist.segmenter import SAM_MODEL_TITLES
    from engine.sam.catalog import SAM_MODELS

    assert set(SAM_MODEL_TITLES) == {model.name for model in SAM_MODELS}


def test_weights_fetch_from_a_mirror_then_auto_answers_with_the_light_model(
        server: Server, torch_home: Path, blob_project: Path, l0_checkpoint: Path) -> None:
    """``main.py weights fetch efficientvit_sam_l0 --mirror URL`` (a loopback server) puts the file
    and its Apache-2.0 licence in the cache; ``AUTO`` with this model then answers with SAM."""
    import main
    from engine.jobs.segment import run_segment
    from engine.models.weight_files import cache_path, licence_path
    from engine.protocol import Segment, SegmentMethod

    spec = find_model(L0)
    server.put(spec.weight_file.filename, l0_checkpoint.read_bytes())
    assert main.main(["weights", "fetch", L0, "--mirror", server.base + "/mirror/"]) == 0
    assert cache_path(spec.weight_file).parent == torch_home
    assert cache_path(spec.weight_file).read_bytes() == l0_checkpoint.read_bytes()
    licence = licence_path(spec.weight_file).read_text()
    assert "EfficientViT-SAM" in licence and "Apache License" in licence and "Version 2.0" in licence
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    answer = run_segment(Segment(str(blob_project), 3, box_xyxy=(20.0, 20.0, 70.0, 70.0), sam_model=L0))
    assert answer.method is SegmentMethod.SAM and answer.model == L0


def test_cached_image_side_decoder_equals_the_official_decoder() -> None:
    """The decoder with its per-image part computed once (engine.sam.sam1_decoder) gives the official
    MaskDecoder's logits and IoU predictions, for box + points prompts, one and three masks, and
    with a previous mask as the prompt."""
    from engine.sam import sam1_decoder

    torch.manual_seed(3)
    network = build_network(find_model(L0))
    with torch.no_grad():
        image_embed = torch.randn(1, 256, 64, 64)
        pe = network.prompt_encoder.get_dense_pe()
        prompts = [
            {"points": None, "boxes": torch.tensor([[100.0, 120.0, 600.0, 500.0]])},
            {"points": (torch.tensor([[[150.0, 200.0], [400.0, 100.0]]]), torch.tensor([[1, 0]])), "boxes": None},
            {"points": (torch.tensor([[[150.0, 200.0]]]), torch.tensor([[1]])),
             "boxes": torch.tensor([[100.0, 120.0, 600.0, 500.0]])},
            # A box and 30 clicks: past sam1_decoder.REGROUP_LIMIT, the official order is used.
            {"points": (torch.rand(1, 30, 2) * 1000, torch.randint(0, 2, (1, 30))),
             "boxes": torch.tensor([[100.0, 120.0, 600.0, 500.0]])},
        ]
        side = None
        for prompt in prompts:
            sparse, dense = network.prompt_encoder(masks=None, **prompt)
            tokens = sam1_decoder.image_tokens(image_embed, pe)
            side = side or sam1_decoder.prepare_image_side(network.mask_decoder, tokens, dense)
            for multimask in (True, False):
                official = network.mask_decoder(image_embeddings=image_embed, image_pe=pe, sparse_prompt_embeddings=sparse,
                                                dense_prompt_embeddings=dense, multimask_output=multimask)
                ours = sam1_decoder.decode(network.mask_decoder, side, sparse, multimask)
                assert ours[0].shape == official[0].shape == (1, 3 if multimask else 1, 256, 256)
                assert torch.allclose(ours[0], official[0], atol=1e-5) and torch.allclose(ours[1], official[1], atol=1e-6)
        # A previous mask as the prompt: the kept side changed by the mask's low-rank part, for
        # a few prompt tokens and for a box and 30 clicks.
        rank = sam1_decoder.mask_prompt_rank(network.mask_decoder, network.prompt_encoder)
        previous = torch.randn(1, 1, 256, 256) * 8
        for prompt in (prompts[1], prompts[3]):
            sparse, dense = network.prompt_encoder(masks=previous, **prompt)
            for multimask in (True, False):
                official = network.mask_decoder(image_embeddings=image_embed, image_pe=pe, sparse_prompt_embeddings=sparse,
                                                dense_prompt_embeddings=dense, multimask_output=multimask)
                with_mask = sam1_decoder.mask_prompt_side(side, rank, sam1_decoder.mask_features(network.prompt_encoder,
                                                                                                 previous))
                ours = sam1_decoder.decode(network.mask_decoder, with_mask, sparse, multimask)
                assert torch.allclose(ours[0], official[0], atol=1e-5) and torch.allclose(ours[1], official[1], atol=1e-6)
        # A scrambled low-rank part (another mask's) is caught.
        other = sam1_decoder.mask_prompt_side(side, rank, sam1_decoder.mask_features(network.prompt_encoder, -previous))
        assert not torch.allclose(sam1_decoder.decode(network.mask_decoder, other, sparse, False)[0], official[0], atol=1e-3)


def test_a_predictor_flushes_subnormal_floats() -> None:
    """Random-weight logits fed back as the mask prompt became subnormal (|x| < 1.2e-38), which x86
    CPUs compute 10-100x slower: clicks took 700 ms instead of 46 ms. A predictor turns on
    flushing them to zero (process-wide in torch)."""
    import torch

    torch.set_flush_denormal(False)
    subnormal = torch.tensor([1e-39])  # made while flushing is off (else it is stored as 0)
    try:
        assert float(subnormal * 1.0) != 0.0  # kept while flushing is off
        SamPredictor(build_network(find_model(L0)), name=L0)
        assert float(subnormal * 1.0) == 0.0
    finally:
        torch.set_flush_denormal(True)  # as every predictor leaves it
