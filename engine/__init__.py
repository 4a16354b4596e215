"""The engine: a background worker process that pre-labels images, retrains models on the
annotators' corrections and answers interactive segmentation prompts.

Only :mod:`engine.protocol`, :mod:`engine.client`, :mod:`engine.errors` and
:mod:`engine.policy` may be imported by the GUI: they never import torch. Everything else
(``engine.models``, ``engine.jobs``, ...) runs in the worker (or in a CLI/test process).
"""
