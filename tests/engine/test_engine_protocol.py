"""Every protocol message pickles (it crosses a process boundary), and the GUI-facing modules
never import torch."""

from __future__ import annotations

import dataclasses
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from engine import protocol as P

REPO = Path(__file__).resolve().parents[2]

RESULTS = [
    P.PrelabelResult(3, (1, 2), 7, 0.5, (9,)),
    P.TrainResult(4, True, {"miou": 0.7}, {"miou": 0.1}, 2, ({"epoch": 1, "loss": 0.3, "val": {"miou": 0.7}},), 1.5,
                  "a.models/unet.pt", "miou", P.PrelabelResult(4, (5,), 1, 0.1)),
    P.SegmentResult((4, 5), b"abc", P.SegmentMethod.GRABCUT, 12.5),
]

MESSAGES = [
    P.Prelabel("a.segproj", "unet", (1, 2), P.Device.CPU, 0.3, 2),
    P.Train("a.segproj", "unet_tiny", 3, P.Device.AUTO, 2, 7, 0.25, "w.pth", False, 5, 0.01),
    P.Segment("a.segproj", 3, (1.0, 2.0, 30.0, 40.0), ((5.0, 6.0),), ((7.0, 8.0),), P.SegmentMethod.MODEL),
    P.Cancel("abc"),
    P.Shutdown(),
    P.Started("abc", "train"),
    P.Progress("abc", 3, 10, "epoch 1", {"loss": 0.5}),
    P.Failed("abc", "EngineInputError", "bad", "Traceback ...", True),
    P.Cancelled("abc"),
    P.WorkerDied(-9, True),
    *[P.Succeeded("abc", r) for r in RESULTS],
]


def _all_protocol_dataclasses() -> set[type]:
    return {obj for obj in vars(P).values() if isinstance(obj, type) and dataclasses.is_dataclass(obj)}


def test_every_message_kind_is_covered() -> None:
    covered = {type(m) for m in MESSAGES} | {type(r) for r in RESULTS}
    assert covered == _all_protocol_dataclasses()


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_message_pickles(message: object) -> None:
    again = pickle.loads(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))
    assert again == message
    assert type(again) is type(message)


def test_job_ids_are_unique() -> None:
    assert len({P.Prelabel("x").job_id for _ in range(100)}) == 100


def test_gui_facing_modules_do_not_import_torch() -> None:
    code = (
        "import sys; import engine.protocol, engine.client, engine.errors, engine.policy, engine.catalog; "
        "bad = sorted(m for m in sys.modules if m == 'torch' or m.startswith(('torch.', 'torchvision'))); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_catalog_matches_registry() -> None:
    from engine.catalog import CATALOG
    from engine.models.registry import REGISTRY

    assert [e.name for e in CATALOG] == list(REGISTRY)
    for entry in CATALOG:
        spec = REGISTRY[entry.name]
        assert (entry.output, entry.description, entry.tiny) == (spec.output, spec.title, spec.tiny)


def test_job_kind_names_every_job_request_and_refuses_the_rest() -> None:
    assert P.job_kind(P.Prelabel("a.segproj")) == "prelabel"
    assert P.job_kind(P.Train("a.segproj")) == "train"
    assert P.job_kind(P.Segment("a.segproj", 1)) == "segment"
    for not_a_job in (P.Cancel("x"), P.Shutdown(), "prelabel"):
        with pytest.raises(TypeError, match="not a job request"):
            P.job_kind(not_a_job)
