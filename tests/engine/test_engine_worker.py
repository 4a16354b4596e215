"""The client and the worker process: events, failures, cancellation, a killed worker."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from annotations.store import Project
from engine.client import EngineClient
from engine.protocol import (
    TERMINAL_EVENTS,
    Cancelled,
    Event,
    Failed,
    Prelabel,
    Progress,
    Segment,
    SegmentMethod,
    SegmentResult,
    Started,
    Succeeded,
    Train,
    WorkerDied,
)

TIMEOUT_S = 180.0


def wait_for(client: EngineClient, predicate: Callable[[Event], bool], seen: list[Event],
             timeout: float = TIMEOUT_S) -> Event:
    """Poll until an event satisfies ``predicate``; every event is appended to ``seen``. Events
    already in ``seen`` after the last match are looked at first (one poll can return several)."""
    start = getattr(seen, "cursor", 0) if isinstance(seen, _Seen) else 0
    for index in range(start, len(seen)):
        if predicate(seen[index]):
            if isinstance(seen, _Seen):
                seen.cursor = index + 1
            return seen[index]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = client.poll(timeout=0.2)
        for offset, event in enumerate(batch):
            if predicate(event):
                seen.extend(batch)
                if isinstance(seen, _Seen):
                    seen.cursor = len(seen) - len(batch) + offset + 1
                return event
        seen.extend(batch)
        if isinstance(seen, _Seen):
            seen.cursor = len(seen)
    raise AssertionError(f"no matching event within {timeout} s; saw {list(seen)}")


class _Seen(list):
    """The events seen so far, with the position after the last match."""

    cursor = 0


def job_events(seen: list[Event], job_id: str) -> list[Event]:
    return [e for e in seen if getattr(e, "job_id", None) == job_id]


def assert_well_formed(events: list[Event]) -> None:
    """Started first, exactly one terminal event, last."""
    assert isinstance(events[0], Started)
    terminal = [e for e in events if isinstance(e, TERMINAL_EVENTS)]
    assert len(terminal) == 1 and events[-1] is terminal[0]


@pytest.fixture(scope="module")
def torch_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A TORCH_HOME for the worker whose download cache holds an LR-ASPP weight file written
    here (a randomly initialised 21-class model, saved under torchvision's file name)."""
    import torch
    import torchvision

    home = tmp_path_factory.mktemp("torch_home")
    folder = home / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    model = torchvision.models.segmentation.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None,
                                                                      num_classes=21)
    torch.save(model.state_dict(), folder / "lraspp_mobilenet_v3_large-d234d4ea.pth")
    return home


@pytest.fixture(scope="module")
def client(torch_home: Path) -> EngineClient:
    engine = EngineClient(max_restarts=3, worker_env={"TORCH_HOME": str(torch_home)})
    engine.start()
    yield engine
    engine.shutdown()
    assert not engine.is_alive()


def test_failing_job_then_succeeding_job_on_the_same_worker(client: EngineClient, blob_project: Path,
                                                            tmp_path: Path) -> None:
    pid = client.pid
    seen: list[Event] = _Seen()
    bad = client.submit(Prelabel(str(tmp_path / "missing.segproj")))
    failed = wait_for(client, lambda e: isinstance(e, TERMINAL_EVENTS) and e.job_id == bad, seen)
    assert isinstance(failed, Failed)
    assert failed.input_error and failed.error_type == "StoreError"
    assert "missing.segproj" in failed.message and "Traceback" in failed.traceback_text
    assert_well_formed(job_events(seen, bad))

    good = client.submit(Segment(str(blob_project), 1, box_xyxy=(5.0, 5.0, 120.0, 90.0), method=SegmentMethod.GRABCUT))
    done = wait_for(client, lambda e: isinstance(e, TERMINAL_EVENTS) and e.job_id == good, seen)
    assert isinstance(done, Succeeded), done
    assert isinstance(done.result, SegmentResult) and done.result.size == (96, 128)
    assert_well_formed(job_events(seen, good))
    assert client.pid == pid and client.is_alive()
    assert client.in_flight == ()


def test_cancel_mid_training_leaves_no_version(client: EngineClient, membrane_project: Callable[..., Path]) -> None:
    project = membrane_project(n_done=4, n_new=0, size=128)
    seen: list[Event] = _Seen()
    job = client.submit(Train(str(project), model="unet_tiny", epochs=50, batch_size=2, iterations_per_epoch=20))
    wait_for(client, lambda e: isinstance(e, Progress) and e.job_id == job and e.done >= 2, seen)
    client.cancel(job)
    end = wait_for(client, lambda e: isinstance(e, TERMINAL_EVENTS) and e.job_id == job, seen)
    assert isinstance(end, Cancelled), end
    progress = [e for e in job_events(seen, job) if isinstance(e, Progress)]
    assert max(e.done for e in progress) < 50 * 20  # stopped early
    assert_well_formed(job_events(seen, job))
    with Project.open(project, readonly=True) as p:
        assert p.model_versions() == []
    models = project.with_name(project.stem + ".models")
    assert not list(models.rglob("*.pt")) if models.exists() else True


def test_segment_does_not_wait_behind_training(client: EngineClient, membrane_project: Callable[..., Path]) -> None:
    """The interactive lane: a box-to-mask request made while a long training runs is answered
    while that training is still running (then the training is cancelled)."""
    project = membrane_project(n_done=4, n_new=0, size=128)
    seen: list[Event] = _Seen()
    train = client.submit(Train(str(project), model="unet_tiny", epochs=50, batch_size=2, iterations_per_epoch=20))
    wait_for(client, lambda e: isinstance(e, Progress) and e.job_id == train and e.done >= 1, seen)
    segment = client.submit(Segment(str(project), 1, box_xyxy=(10.0, 10.0, 90.0, 90.0), method=SegmentMethod.GRABCUT))
    end = wait_for(client, lambda e: isinstance(e, TERMINAL_EVENTS) and e.job_id in (train, segment), seen)
    assert end.job_id == segment and isinstance(end, Succeeded), end
    assert isinstance(end.result, SegmentResult) and end.result.size == (128, 128)
    client.cancel(train)
    finished = wait_for(client, lambda e: isinstance(e, TERMINAL_EVENTS) and e.job_id == train, seen)
    assert isinstance(finished, Cancelled), finished
    assert_well_formed(job_events(seen, segment))
    assert_well_formed(job_events(seen, train))


def test_killed_worker_is_reported_and_restarted(membrane_project: Callable[..., Path], blob_project: Path) -> None:
    project = membrane_project(n_done=4, n_new=0, size=128)
    with EngineClient(max_restarts=1) as engine:
        first_pid = engine.pid
        seen: list[Event] = _Seen()
        job = engine.submit(Train(str(project), model="unet_tiny", epochs=50, iterations_per_epoch=20))
        wait_for(engine, lambda e: isinstance(e, Started) and e.job_id == job, seen)
        engine.kill()
        died = wait_for(engine, lambda e: isinstance(e, WorkerDied), seen)
        assert died.restarted and died.exit_code is not None and died.exit_code != 0
        lost = wait_for(engine, lambda e: isinstance(e, Failed) and e.job_id == job, seen, timeout=5)
        assert lost.error_type == "WorkerDied"
        assert engine.is_alive() and engine.pid != first_pid
        assert engine.in_flight == ()

        end = engine.run(Segment(str(blob_project), 2, positive_points=((60.0, 40.0),)), timeout=TIMEOUT_S)
        assert isinstance(end, Succeeded), end

        # Restarts are capped: a second death is reported without a restart.
        engine.kill()
        died = wait_for(engine, lambda e: isinstance(e, WorkerDied), [])
        assert not died.restarted and not engine.is_alive()


def test_worker_env_reaches_the_worker_and_cached_weights_are_used(client: EngineClient, torch_home: Path,
                                                                   blob_project: Path) -> None:
    end = client.run(Prelabel(str(blob_project), model="lraspp_mobilenet_v3_large", image_ids=(3,),
                              score_threshold=0.0), timeout=TIMEOUT_S)
    assert isinstance(end, Succeeded), end
    with Project.open(blob_project, readonly=True) as project:
        version = project.get_model_version(end.result.model_version_id)
    weight_file = torch_home / "hub" / "checkpoints" / "lraspp_mobilenet_v3_large-d234d4ea.pth"
    assert version.trained_on["init"] == f"torchvision:{weight_file}"


def test_out_of_memory_errors_get_a_readable_message() -> None:
    import torch

    from engine.worker import describe_failure

    error_type, message = describe_failure(
        torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 79.1 GiB total)"), "train")
    assert error_type == "OutOfMemoryError"
    assert "GPU ran out of memory during the train job" in message and "smaller batch size" in message
    assert describe_failure(MemoryError(), "prelabel")[1].startswith("the CPU ran out of memory")
    assert describe_failure(ValueError("boom"), "segment") == ("ValueError", "boom")


def test_death_noticed_at_submit_is_still_reported(blob_project: Path) -> None:
    with EngineClient(max_restarts=1) as engine:
        engine.kill()  # dies between polls: the next submit must not hide it
        job = engine.submit(Segment(str(blob_project), 1, box_xyxy=(5.0, 5.0, 120.0, 90.0)))
        seen: list[Event] = _Seen()
        died = wait_for(engine, lambda e: isinstance(e, WorkerDied), seen)
        assert died.restarted
        end = wait_for(engine, lambda e: isinstance(e, TERMINAL_EVENTS) and e.job_id == job, seen)
        assert isinstance(end, Succeeded), end


def test_gpu_memory_is_released_after_the_failed_jobs_tensors_are_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    """After a failure (typically CUDA out of memory) the worker empties torch's CUDA cache so
    the desktop gets the memory back; that only frees anything once the failed job's frames
    (model, optimizer, activations, held by the exception's traceback) are gone."""
    import weakref

    import engine.jobs
    import engine.worker as worker_module

    class Activations:
        pass

    refs: list[weakref.ref] = []
    alive_at_release: list[bool] = []

    def failing_job(request: object, progress: object, is_cancelled: object) -> None:
        activations = Activations()
        refs.append(weakref.ref(activations))
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(engine.jobs, "run_job", failing_job)
    monkeypatch.setattr(worker_module, "_release_gpu_memory", lambda: alive_at_release.append(refs[-1]() is not None))
    events: list[Event] = []
    worker = worker_module._Worker(requests=None, events=type("Sink", (), {"put": staticmethod(events.append)})())
    worker.run_one(Prelabel("nowhere.segproj"))

    assert isinstance(events[-1], Failed) and events[-1].error_type == "OutOfMemoryError"
    assert alive_at_release == [False]
