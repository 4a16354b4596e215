"""The exception hierarchy of the engine: one root, one subclass per failure kind.

Torch-free, so the client, the CLI and ``main.py`` can import it without loading torch.
"""

from __future__ import annotations


class EngineError(Exception):
    """Root of every error raised by :mod:`engine`."""


class EngineInputError(EngineError):
    """Bad input to a job: an unknown model name, a missing image file, too few finished
    images to train on, a weight file that does not fit. ``main.py`` maps it to exit code 2."""


class JobCancelled(EngineError):
    """Raised inside a job function when its cancel token is set; the worker turns it into a
    :class:`engine.protocol.Cancelled` event. Nothing half-written is left behind."""


class ModelWeightsError(EngineInputError):
    """A weight file cannot be read or does not fit the architecture."""


class WorkerError(EngineError):
    """The worker process could not be started or talked to."""


class WeightsFetchError(EngineInputError):
    """A weight file could not be fetched into the cache (unknown name, HTTP error, truncated
    body, hash mismatch, cancel); the cache is left as it was."""
