"""SegStudio's data layer: geometry, data model, project store, formats and metrics.

Usable on its own from a notebook or a training script: it imports neither Qt nor torch.
"""

from annotations.errors import AnnotationsError

__all__ = ["AnnotationsError"]
