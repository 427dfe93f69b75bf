"""Training, export and calibration of the shipped extractive reader (see qa/models/reader/), and
the build of the shipped ONNX encoder (``embed_export``).

Owns the training data (``data``, from ``qa.eval.squad``), windows (``features``), the torch
helpers below the trainer, the teacher and the probe (``tensors``), training, distillation,
export, recovery, calibration and the recipes. May import: anything of ``qa`` but the CLI; nothing
imports it but the CLI (``qa train-reader`` and friends), so serving never loads torch for it."""
