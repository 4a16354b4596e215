"""IoU-based review metrics: matching, COCO mAP (through pycocotools / faster-coco-eval),
semantic and panoptic metrics, boundary IoU, and review reports (JSON + HTML).

Modules: ``matching`` (one image), ``detection`` (COCO mAP), ``semantic``, ``panoptic``,
``boundary``, ``review`` (projects), ``review_core`` (the engine), ``report`` /
``report_json`` / ``report_html``. Import what you need from them; this package imports
nothing heavy by itself.
"""
