"""``python main.py segment PROJECT --image ID --box X1 Y1 X2 Y2 [--point X,Y ...] [--negative X,Y ...]
[--method auto|sam|grabcut|model] [--sam-model NAME] [--sam-weights FILE] --out MASK.png``: one
interactive-segmentation answer for scripts, written as a 0/255 PNG of the image's size.

Runs in this process (one answer does not pay for starting the worker). ``auto`` uses SAM when its
weights are in the cache (``main.py weights fetch sam2.1_hiera_tiny``), else the project's trained
mask model as GrabCut's prior, else GrabCut.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cli.errors import UsageError
from engine.protocol import Segment, SegmentMethod


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``segment`` parser."""
    parser = subparsers.add_parser("segment", help="segment one object from a box and/or clicks (SAM or GrabCut)")
    parser.add_argument("project", type=Path, help="a project file (*.segproj)")
    parser.add_argument("--image", type=int, required=True, metavar="ID", help="the image id")
    parser.add_argument("--box", type=float, nargs=4, metavar=("X1", "Y1", "X2", "Y2"), help="box, image pixels")
    parser.add_argument("--point", action="append", default=[], metavar="X,Y", help="a click on the object (repeatable)")
    parser.add_argument("--negative", action="append", default=[], metavar="X,Y", help="a click on background (repeatable)")
    parser.add_argument("--method", choices=[m.value for m in SegmentMethod], default="auto")
    parser.add_argument("--sam-model", default="", help="a SAM model name: sam2.1_hiera_tiny (default), sam2.1_hiera_small, "
                        "efficientvit_sam_l0 (light, for CPU laptops); see `main.py weights list`")
    parser.add_argument("--sam-weights", default="", metavar="FILE", help="a SAM checkpoint file instead of the weights cache")
    parser.add_argument("--candidate", type=int, default=0, help="SAM: which candidate to write (0 = best)")
    parser.add_argument("--out", type=Path, required=True, help="the mask PNG to write (0 / 255, the image's size)")
    parser.set_defaults(func=run)


def parse_point(text: str, flag: str) -> tuple[float, float]:
    """``"12.5,40"`` -> (12.5, 40.0); :class:`UsageError` naming the flag otherwise."""
    parts = text.split(",")
    try:
        if len(parts) != 2:
            raise ValueError(text)
        return (float(parts[0]), float(parts[1]))
    except ValueError:
        raise UsageError(f"{flag} {text!r}: expected X,Y (image pixels), e.g. {flag} 120,85") from None


def run(args: argparse.Namespace) -> int:
    """Segment, write the PNG, print what answered."""
    import cv2
    import numpy as np

    from annotations.geometry import Mask, rle
    from engine.jobs.segment import run_segment

    if args.box is None and not args.point:
        raise UsageError("segment needs --box X1 Y1 X2 Y2 and/or at least one --point X,Y")
    if args.out.suffix.lower() != ".png":
        raise UsageError(f"--out {args.out}: the mask is written as PNG; name a .png file")
    if not args.project.exists():
        raise UsageError(f"{args.project}: no such project file")
    request = Segment(
        str(args.project.absolute()), args.image,
        box_xyxy=tuple(args.box) if args.box is not None else None,
        positive_points=tuple(parse_point(p, "--point") for p in args.point),
        negative_points=tuple(parse_point(p, "--negative") for p in args.negative),
        method=SegmentMethod(args.method), sam_model=args.sam_model, sam_weights_file=args.sam_weights)
    result = run_segment(request)
    candidates = (result.counts, *result.alternatives)
    if not 0 <= args.candidate < len(candidates):
        raise UsageError(f"--candidate {args.candidate}: this answer has {len(candidates)} candidate(s)")
    mask = rle.decode(Mask(result.size, candidates[args.candidate]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(args.out), np.where(mask, 255, 0).astype(np.uint8)):
        raise UsageError(f"--out {args.out}: cannot write the file")
    method = f"{result.method.value} ({result.model})" if result.model else result.method.value
    scores = f", predicted IoU {', '.join(f'{s:.3f}' for s in result.scores)}" if result.scores else ""
    embedding = f" (embedding {result.embedding_ms:.0f} ms)" if result.method is SegmentMethod.SAM else ""
    print(f"{args.out}: {int(mask.sum())} pixels of {mask.size} by {method} in {result.milliseconds:.0f} ms"
          f"{embedding}{scores}; {len(candidates)} candidate(s)")
    return 0
