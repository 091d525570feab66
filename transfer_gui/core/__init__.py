"""The engine's public interface: what the command line and the window may use.

Sub-packages, from the top layer down (each imports only the ones below it; the test
`tests/test_architecture.py` runs the import-linter contracts that say so):

- `analysis`: evaluation, metrics, prediction and explanations, comparison of runs;
- `train`: preparing a run, the training loop and its hooks, classic heads, the LR finder;
  `train.transfer`: a second folder, joint training and domain adaptation;
- `io`: run folders (weights, checkpoint, record, lock), projects, the feature store, export;
- `data`: folder scans, image decoding, datasets, augmentation, batches, the decoded-image cache;
- `models`: backbones and their layer groups, weights, the bundled network, heads;
- `runwords`: a run's events in words, the sentences the command line and the window share;
- the base modules here: `config` (over `schema`, how a setting is declared), `events`,
  `errors`, `wording`, `interrupt`, `atomic`.

Names are imported on first use, so `import transfer_gui.core` stays cheap for the window
(torch loads only when something that needs it is asked for). Worker threads import them one
at a time (`load_torch` and `__getattr__` share one lock).
"""

from __future__ import annotations

import importlib
import sys
import threading
import types
from typing import Any

# One import path for the engine's modules and for torch: two threads importing torchvision
# at once (the window's loader and a page's worker) can meet a partially initialised
# `torchvision.transforms` and fail. Every first import goes through this lock.
_IMPORTING = threading.RLock()

_WHERE: dict[str, str] = {
    "run_advice": "analysis.advice",
    "compare_strategies": "analysis.compare",
    "run_summary": "analysis.compare",
    "strategy_runs": "analysis.compare",
    "with_mark": "analysis.compare",
    "Evaluation": "analysis.evaluation",
    "evaluate_run": "analysis.evaluation",
    "prediction_device": "analysis.rundevice",
    "automatic_device": "analysis.rundevice",
    "LabelTable": "analysis.tasks",
    "answers_line": "analysis.tasks",
    "Prediction": "analysis.predict",
    "Predictor": "analysis.predict",
    "expand_inputs": "analysis.predict",
    "folder_labels": "analysis.predict",
    "is_uncertain": "analysis.predict",
    "labelled_accuracy": "analysis.predict",
    "labelled_score": "analysis.predict",
    "overlay": "analysis.predict",
    "ReportError": "analysis.report",
    "DataFeatures": "analysis.know_your_data",
    "Inspection": "analysis.know_your_data",
    "data_features": "analysis.know_your_data",
    "inspect": "analysis.know_your_data",
    "inspect_data": "analysis.know_your_data",
    "run_features": "analysis.know_your_data",
    "with_threshold": "analysis.know_your_data",
    "DUPLICATE_THRESHOLD": "analysis.know_your_data",
    "embed": "analysis.embedding",
    "separability": "analysis.embedding",
    "class_colour": "analysis.know_your_data_files",
    "duplicate_rows": "analysis.know_your_data_files",
    "issue_rows": "analysis.know_your_data_files",
    "inspection_files": "analysis.know_your_data_files",
    "inspection_summary": "analysis.know_your_data_files",
    "ReviewError": "io.review",
    "read_review": "io.review",
    "review_mark": "io.review",
    "relative_name": "data.split",
    "untrainable": "data.labels",
    "report_format": "analysis.report",
    "write_report": "analysis.report",
    "write_csv": "analysis.predict",
    "ADAPT_NAMES": "config",
    "AUTO_ADAPT": "config",
    "CLASSIC_STRATEGIES": "config",
    "STRATEGY_NAMES": "config",
    "DataConfig": "config",
    "ModelConfig": "config",
    "RunConfig": "config",
    "STRATEGY_DEFAULTS": "config",
    "TrainConfig": "config",
    "TransferConfig": "config",
    "ConfigError": "schema",
    "NOTHING": "schema",
    "options_of": "schema",
    "option_named": "schema",
    "Preprocess": "data.datasets",
    "augment_preview": "data.datasets",
    "ImageError": "data.images",
    "thumbnail": "data.images",
    "FolderScan": "data.scan",
    "LabelTask": "data.labels",
    "csv_file": "data.labels",
    "scan_data": "data.labels",
    "task_counts": "data.labels",
    "scan_folder": "data.scan",
    "untrainable_reason": "data.trainable",
    "training_split": "data.split",
    "USER_ERRORS": "errors",
    "UserError": "errors",
    "UNCERTAIN_BELOW": "analysis.predict",
    "BatchEnded": "events",
    "Callback": "events",
    "CancelToken": "events",
    "Cancelled": "events",
    "EpochEnded": "events",
    "FitEnded": "events",
    "FitStarted": "events",
    "Message": "events",
    "Progress": "events",
    "SweepProgress": "events",
    "Work": "events",
    "check": "events",
    "emit": "events",
    "from_dict": "events",
    "to_dict": "events",
    "cancel_points": "interrupt",
    "EXPORT_FORMATS": "io.export",
    "FILE_FORMATS": "io.export",
    "EXPORT_SUFFIXES": "io.export",
    "ExportError": "io.export",
    "ExportResult": "io.export",
    "default_export_path": "io.export",
    "export_format_for": "io.export",
    "export_run": "analysis.exporting",
    "export_description": "io.exportwords",
    "BenchRow": "io.exportbench",
    "benchmark_exports": "io.exportbench",
    "cache_root": "io.featurestore",
    "cache_usage": "io.featurestore",
    "clear_cache": "io.featurestore",
    "Project": "io.project",
    "ProjectError": "io.project",
    "SUFFIX": "io.project",
    "data_home": "io.project",
    "load_project": "io.project",
    "new_run_dir": "io.project",
    "runs_folder": "io.project",
    "save_project": "io.project",
    "tensorboard_folder": "io.project",
    "clear_folder": "io.runlock",
    "writer_gone": "io.writer",
    "INTERRUPTED": "io.runmeta",
    "RunError": "io.runmeta",
    "RunInfo": "io.runmeta",
    "can_resume": "io.runmeta",
    "run_info": "io.runmeta",
    "saved_weights": "io.runmeta",
    "run_revision": "io.runmeta",
    "load_run_config": "io.runmeta",
    "save_run_config": "io.runmeta",
    "read_steps": "io.steplog",
    "EVENTS": "io.eventlog",
    "EventReader": "io.eventlog",
    "read_events": "io.eventlog",
    "get_spec": "models.backbones",
    "check_weights_file": "models.weights",
    "Catalog": "models.zoo.catalog",
    "ZooEntry": "models.zoo.entry",
    "PRETRAINING_TEXT": "models.zoo.entry",
    "load_catalog": "models.zoo.catalog",
    "search_zoo": "models.zoo.catalog",
    "weights_statuses": "models.zoo.caches",
    "measured_speeds": "models.zoo.speed",
    "measure_speed": "models.zoo.speed",
    "fetch_weights": "models.weights",
    "NO_NETWORK": "models.zoo.fetch",
    "list_specs": "models.backbones",
    "ModelLayout": "models.freezing",
    "Selection": "models.freezing",
    "describe": "models.freezing",
    "fine_tune_words": "models.freezing",
    "format_count": "wording",
    "select": "models.freezing",
    "is_online": "models.zoo.fetch",
    "weights_source": "models.weights",
    "Ranks": "train.ranks",
    "Cluster": "train.dist.scripts",
    "LAUNCH_SCRIPTS": "train.dist.scripts",
    "launch_next_step": "train.dist.scripts",
    "local_launch_command": "train.dist.scripts",
    "LAUNCHER": "train.dist.scripts",
    "visible_gpus": "train.dist.scripts",
    "write_launch_script": "train.dist.scripts",
    "Trainer": "train.loop",
    "fit": "train.loop",
    "resume_config": "train.loop",
    "TimeLeft": "timeleft",
    "SmoothedLeft": "timeleft",
    "LRFindResult": "train.lrfind.curve",
    "SWEEP_END": "train.lrfind.curve",
    "SWEEP_START": "train.lrfind.curve",
    "SWEEP_STEPS": "train.lrfind.curve",
    "smooth_losses": "train.lrfind.curve",
    "lr_find": "train.lrfind.sweep",
    "device_label": "train.recipe",
    "pick_device": "train.recipe",
    "require_tensorboard": "train.tboard",
    "tensorboard_problem": "train.tboard",
    "ended_headline": "runwords",
    "ended_line": "runwords",
    "epoch_line": "runwords",
    "message_line": "runwords",
    "started_line": "runwords",
    "Change": "data.labelpool",
    "LabelPool": "data.labelpool",
    "check_class_name": "data.labelpool",
    "write_labels": "data.labelpool",
    "CameraError": "data.camera",
    "CameraSource": "data.camera",
    "list_cameras": "data.camera",
    "BurstRecorder": "analysis.live",
    "LiveResult": "analysis.live",
    "LiveSession": "analysis.live",
    "PatternSource": "analysis.live",
    "pattern_predictor": "analysis.live",
    "predict_live": "analysis.live",
    "Move": "data.labelsort",
    "apply_sort": "data.labelsort",
    "plan_sort": "data.labelsort",
    "AUTO_SWITCH": "analysis.activelearn",
    "SUGGEST_STRATEGIES": "analysis.activelearn",
    "PoolFeatures": "analysis.suggest",
    "Suggestion": "analysis.suggest",
    "Suggestions": "analysis.suggest",
    "from_features": "analysis.suggest",
    "pool_features": "analysis.suggest",
    "suggest": "analysis.suggest",
    "count": "wording",
    "human_duration": "wording",
    "install_hint": "wording",
    "require_packages": "wording",
    "share": "wording",
}

__all__ = sorted(_WHERE)


def load_torch() -> types.ModuleType:
    """Import torch and torchvision (seconds), once, whatever thread asks first; the
    others wait for it. Returns the torch module."""
    with _IMPORTING:
        import torch
        import torchvision
        import torchvision.models
        import torchvision.transforms
        import torchvision.transforms.v2  # noqa: F401

        return torch


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = sys.modules.get(f"{__name__}.{where}")
    if module is None or _initialising(module):
        if threading.current_thread() is threading.main_thread():
            # the window's thread only asks for torch-free parts (it must not wait seconds
            # for a worker's import of torch)
            module = importlib.import_module(f"{__name__}.{where}")
        else:
            with _IMPORTING:
                module = importlib.import_module(f"{__name__}.{where}")
    # Looked up each time, not cached here: the name stays bound to its module, so a value
    # replaced there (a test's monkeypatch, a reloaded module) is what callers get.
    return getattr(module, name)


def _initialising(module: Any) -> bool:
    return bool(getattr(getattr(module, "__spec__", None), "_initializing", False))


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
