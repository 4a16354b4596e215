"""A reload (after an engine job, or any refresh) reads the image rows only when the image list
or a status changed: at 100,000 images reading them cost ~0.5 s on the GUI thread."""

from __future__ import annotations

from annotations.model import ImageStatus, SetImageStatus
from annotations.store import Project
from app.session import Session


def test_reload_skips_the_image_rows_when_nothing_changed(qtbot, new_project: Project, monkeypatch) -> None:
    session = Session(new_project)
    session.open_image(new_project.images()[0].id)
    reads: list[int] = []
    real = new_project.image_index
    monkeypatch.setattr(new_project, "image_index", lambda: reads.append(1) or real())
    session.reload()
    assert reads == []
    with Project.open(new_project.path) as other:  # another process marks the image done
        other.execute(SetImageStatus(1, ImageStatus.DONE))
    changed: list[int] = []
    session.imagesChanged.connect(lambda: changed.append(1))
    session.reload()
    assert reads == [1] and changed == [1]
    assert session.images[0].status is ImageStatus.DONE and session.image.status is ImageStatus.DONE


def test_reload_sees_images_added_in_this_process(qtbot, new_project: Project) -> None:
    """An import in the GUI process writes through the same connection: no other connection
    committed, yet the reload must read the new rows."""
    from annotations.model import Image

    session = Session(new_project)
    new_project.add_images([Image(0, "more.png", 10, 10)])
    session.reload()
    assert [i.path for i in session.images] == ["img.png", "more.png"]
