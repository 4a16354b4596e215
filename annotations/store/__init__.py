"""The project store: one SQLite file per project (``*.segproj``)."""

from annotations.store.project import PROJECT_SUFFIX, Project
from annotations.store.schema import SCHEMA_VERSION

__all__ = ["PROJECT_SUFFIX", "Project", "SCHEMA_VERSION"]
