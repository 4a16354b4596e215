"""Benchmark: the SAM mask decoder per click, official module vs this project's regrouped one.

For SAM 2.1 tiny and EfficientViT-SAM L0 (seeded random weights: decoder time does not depend on
the weights; each runs when its package is installed), the same prompt-encoder outputs go through
the official ``MaskDecoder.forward`` and through :mod:`engine.sam.sam1_decoder` /
:mod:`engine.sam.sam2_decoder` (image side kept per image, products regrouped, channels last),
alternating, for three kinds of click: the first (box + point, three candidates, no mask prompt),
a refinement (box + point + the previous mask as the prompt, one mask) and a late refinement
(box + ``--late-clicks`` points + the previous mask: a long simulated-annotator session's clicks,
each adding a prompt token). Prints the median and
p95 wall milliseconds of the decoder call (prompt encoder included, as a click pays it), the
largest logit difference, and the ratio. The load average is printed: wall times on a busy
machine mean little.

    .venv/bin/python bench/sam_decoder.py [--threads 2] [--repeat 30] [--late-clicks 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.sam import sam1_decoder, sam2_decoder
from engine.sam.catalog import find_model

Click = Callable[[], torch.Tensor]


LATE_CLICKS = 10


def _late_points(count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` clicks spread over the box, alternately positive and negative: (1, count, 2), (1, count)."""
    generator = torch.Generator().manual_seed(1)
    xy = torch.rand(1, count, 2, generator=generator) * torch.tensor([500.0, 380.0]) + torch.tensor([100.0, 120.0])
    return xy, (torch.arange(count) % 2 == 0).long()[None]


def _efficientvit(late_clicks: int) -> tuple[dict[str, Click], dict[str, Click]]:
    from engine.sam.efficientvit import build_network

    network = build_network(find_model("efficientvit_sam_l0")).eval()
    encoder, decoder = network.prompt_encoder, network.mask_decoder
    embed, pe = torch.randn(1, 256, 64, 64), encoder.get_dense_pe()
    box = torch.tensor([[100.0, 120.0, 600.0, 500.0]])
    points = (torch.tensor([[[150.0, 200.0]]]), torch.tensor([[1]]))
    previous = torch.randn(1, 1, 256, 256)
    late = _late_points(late_clicks)
    kept = sam1_decoder.KeptImage(decoder, encoder, pe)

    def official(masks: torch.Tensor | None, clicks: tuple[torch.Tensor, torch.Tensor] = points) -> torch.Tensor:
        sparse, dense = encoder(points=clicks, boxes=box, masks=masks)
        return decoder(image_embeddings=embed, image_pe=pe, sparse_prompt_embeddings=sparse,
                       dense_prompt_embeddings=dense, multimask_output=masks is None)[0]

    def ours(masks: torch.Tensor | None, clicks: tuple[torch.Tensor, torch.Tensor] = points) -> torch.Tensor:
        sparse, dense = encoder(points=clicks, boxes=box, masks=None)
        mask = None if masks is None else sam1_decoder.mask_features(encoder, masks)
        side = kept.side(embed, embed, dense, mask)
        return sam1_decoder.decode(decoder, side, sparse, masks is None)[0]

    return ({"first": lambda: official(None), "refine": lambda: official(previous),
             "late": lambda: official(previous, late)},
            {"first": lambda: ours(None), "refine": lambda: ours(previous), "late": lambda: ours(previous, late)})


def _sam2(late_clicks: int) -> tuple[dict[str, Click], dict[str, Click]]:
    from engine.sam.model import build_network

    network = build_network(find_model("sam2.1_hiera_tiny")).eval()
    encoder, decoder = network.sam_prompt_encoder, network.sam_mask_decoder
    embed, pe = torch.randn(1, 256, 64, 64), encoder.get_dense_pe()
    feats = [torch.randn(1, 32, 256, 256), torch.randn(1, 64, 128, 128)]
    points = (torch.tensor([[[100.0, 120.0], [600.0, 500.0], [150.0, 200.0]]]), torch.tensor([[2, 3, 1]]))
    previous = torch.randn(1, 1, 256, 256)
    late_xy, late_labels = _late_points(late_clicks)
    late = (torch.cat([points[0][:, :2], late_xy], dim=1), torch.cat([points[1][:, :2], late_labels], dim=1))
    kept = sam1_decoder.KeptImage(decoder, encoder, pe)

    def official(masks: torch.Tensor | None, clicks: tuple[torch.Tensor, torch.Tensor] = points) -> torch.Tensor:
        sparse, dense = encoder(points=clicks, boxes=None, masks=masks)
        return decoder(image_embeddings=embed, image_pe=pe, sparse_prompt_embeddings=sparse,
                       dense_prompt_embeddings=dense, multimask_output=masks is None, repeat_image=False,
                       high_res_features=feats)[0]

    def ours(masks: torch.Tensor | None, clicks: tuple[torch.Tensor, torch.Tensor] = points) -> torch.Tensor:
        sparse, dense = encoder(points=clicks, boxes=None, masks=None)
        mask = None if masks is None else sam1_decoder.mask_features(encoder, masks)
        side = kept.side(embed, embed, dense, mask)
        return sam2_decoder.decode(decoder, side, sparse, masks is None, kept.high_res(embed, *feats))[0]

    return ({"first": lambda: official(None), "refine": lambda: official(previous),
             "late": lambda: official(previous, late)},
            {"first": lambda: ours(None), "refine": lambda: ours(previous), "late": lambda: ours(previous, late)})


def _p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(0.95 * len(values)) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--late-clicks", type=int, default=LATE_CLICKS, help="clicks before a late refinement")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    models: dict[str, Callable[[int], tuple[dict[str, Click], dict[str, Click]]]] = {}
    try:
        import sam2  # noqa: F401

        models["sam2.1_hiera_tiny"] = _sam2
    except ImportError:
        print("sam2 not installed: SAM 2.1 skipped")
    try:
        import efficientsam.sam_model_zoo  # noqa: F401

        models["efficientvit_sam_l0"] = _efficientvit
    except ImportError:
        print("efficientsam not installed: EfficientViT-SAM skipped")
    print(f"{args.threads} threads, {args.repeat} clicks per kind; load average "
          + ", ".join(f"{v:.2f}" for v in os.getloadavg()) + f" on {os.cpu_count()} cores")
    print(f"{'model':<22} {'click':<8} {'official ms':>12} {'p95':>6} {'ours ms':>8} {'p95':>6} {'speed-up':>9} "
          f"{'max |diff|':>11}")
    with torch.no_grad():
        for name, make in models.items():
            official, ours = make(args.late_clicks)
            for kind in ("first", "refine", "late"):
                difference = float((official[kind]() - ours[kind]()).abs().max())
                times: dict[str, list[float]] = {"official": [], "ours": []}
                for _ in range(args.repeat):
                    for label, click in (("official", official[kind]), ("ours", ours[kind])):
                        started = time.perf_counter()
                        click()
                        times[label].append((time.perf_counter() - started) * 1000)
                old, new = statistics.median(times["official"]), statistics.median(times["ours"])
                print(f"{name:<22} {kind:<8} {old:>12.1f} {_p95(times['official']):>6.1f} {new:>8.1f} "
                      f"{_p95(times['ours']):>6.1f} {old / new:>8.2f}x {difference:>11.1e}")
    print("load average at the end: " + ", ".join(f"{v:.2f}" for v in os.getloadavg()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
