"""The hyperparameter form of the Train page, mapped to and from `TrainConfig`."""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QDoubleValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from ...core import CLASSIC_STRATEGIES, ConfigError, TrainConfig

OPTIMIZERS = (("adamw", "AdamW"), ("sgd", "SGD (momentum)"))
SCHEDULES = (("onecycle", "One-cycle"), ("cosine", "Cosine with warm-up"),
             ("constant", "Constant"))
AUGMENTS = ((None, "Auto (per strategy)"), ("none", "None"), ("light", "Light"),
            ("standard", "Standard"))
DEVICES = (("auto", "Automatic"), ("cpu", "CPU"), ("cuda", "CUDA GPU"))
TWO_STAGE = ("fine-tune", "full")  # strategies that unfreeze layers below the head
HEAD_EPOCHS_TIP = ("The older two-stage recipe: train the new head alone (the network frozen) "
                   "for this many epochs, then unfreeze the chosen layers. 0 trains "
                   "everything from the start; auto is the strategy's default.")
STARTS = ((None, "Auto (per strategy)"), (True, "Linear probe first"),
          (False, "Head first for N epochs"))
START_TIP = ("Fine-tuning starts from a linear probe trained on the frozen network's "
             "features as the linear-probe strategy trains it (epoch 1); if fine-tuning "
             "never beats it on validation, the run keeps the probe")
BN_STATS = ((None, "Auto"), (True, "Frozen (pretrained)"), (False, "Updated"))
DECAY_TIP = ("Each layer group below the head learns at this times the rate of the group "
             "above it (smaller: earlier layers change less)")
TIPS = {  # what each field does, in the words of the form (a tooltip per field)
    "epochs": "How many passes over the training images; auto is the strategy's default",
    "batch_size": "Images per training step: smaller needs less memory, larger is faster on a "
                  "GPU",
    "lr": "How big the optimizer's steps are; empty uses the strategy's default. Find "
          "learning rate measures a good one on your data",
    "optimizer": "AdamW adapts each parameter's step (a safe default); SGD with momentum is "
                 "the classic choice for fine-tuning",
    "schedule": "How the learning rate moves during training: one-cycle warms up, then "
                "anneals; cosine warms up, then decays; constant stays put",
    "weight_decay": "Pulls the weights towards zero, against overfitting",
    "label_smoothing": "The true class is aimed at 1 − ε instead of 1, the others share ε: "
                       "less over-confident predictions, less harm from wrong labels",
    "augment": "Random crops, flips and colour changes of the training images, so the model "
               "generalises. Auto: none for a linear probe (its features are then cached), "
               "light or standard for the others",
    "image_size": "The side of the square image the network sees: smaller is faster, larger "
                  "keeps finer detail. Default: the size the backbone was trained at",
    "mixed_precision": "Compute in 16 bits on a CUDA GPU: about twice as fast, the same "
                       "accuracy; the CPU always uses 32 bits",
    "device": "Where training runs; Automatic takes a CUDA GPU when there is one",
    "seed": "Fixes the random choices (initial head, image order, augmentation) so a run can "
            "be repeated exactly",
    "compile": "Compile the network with torch.compile: faster on long GPU runs, but the "
               "first epoch waits for the compilation",
}
CLASSIC_TIP = "A classic head is fitted on the features in one pass: no epochs or rates"


def _combo(choices: tuple) -> QComboBox:
    combo = QComboBox()
    for value, text in choices:
        combo.addItem(text, value)
    return combo


def _set_combo(combo: QComboBox, value: object) -> None:
    index = combo.findData(value)
    combo.setCurrentIndex(max(index, 0))


def _spin(low: int, high: int, value: int, special: str = "", suffix: str = "") -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    if special:
        spin.setSpecialValueText(special)
    if suffix:
        spin.setSuffix(suffix)
    return spin


class TrainForm(QGroupBox):
    """Emits `edited` whenever a value changes; `config()` gives the `TrainConfig`."""

    edited = Signal()
    find_lr_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Hyperparameters", parent)
        self.epochs = _spin(0, 1000, 0, "auto")
        self.batch_size = _spin(1, 4096, 32)
        self.lr = QLineEdit()
        self.lr.setPlaceholderText("auto (per strategy)")
        validator = QDoubleValidator(1e-7, 10.0, 8, self.lr)
        validator.setNotation(QDoubleValidator.Notation.ScientificNotation)
        self.lr.setValidator(validator)
        self.find_lr = QPushButton("Find learning rate…")
        self.find_lr.setToolTip("Train briefly with a rising rate and suggest where the loss "
                                "falls fastest")
        self.find_lr.clicked.connect(self.find_lr_requested)
        self.head_epochs = _spin(-1, 1000, -1, "auto", " epochs")
        self.head_epochs.setToolTip(HEAD_EPOCHS_TIP)
        self.probe_first = _combo(STARTS)
        self.probe_first.setToolTip(START_TIP)
        self.layer_decay = QDoubleSpinBox()
        self.layer_decay.setRange(0, 1)
        self.layer_decay.setSingleStep(0.05)
        self.layer_decay.setSpecialValueText("auto")
        self.layer_decay.setToolTip(DECAY_TIP)
        self.freeze_bn = _combo(BN_STATS)
        self.freeze_bn.setToolTip("BatchNorm statistics while fine-tuning: kept as pretrained "
                                  "(steadier with few images) or updated from your images")
        self.optimizer = _combo(OPTIMIZERS)
        self.schedule = _combo(SCHEDULES)
        self.weight_decay = QDoubleSpinBox()
        self.weight_decay.setDecimals(5)
        self.weight_decay.setRange(0, 1)
        self.weight_decay.setSingleStep(1e-4)
        self.weight_decay.setValue(1e-4)
        self.label_smoothing = QDoubleSpinBox()
        self.label_smoothing.setRange(0, 0.5)
        self.label_smoothing.setSingleStep(0.05)
        self.label_smoothing.setValue(0.1)
        self.augment = _combo(AUGMENTS)
        self.image_size = _spin(0, 1024, 0, "backbone default", " px")
        self.image_size.setSingleStep(16)
        self.mixed_precision = QCheckBox("bf16/fp16 on a CUDA GPU")
        self.mixed_precision.setChecked(True)
        self.device = _combo(DEVICES)
        self.early_stopping = _spin(0, 100, 0, "off", " epochs")
        self.seed = _spin(0, 2**31 - 1, 0)
        self.auto_batch = QCheckBox("largest that fits (GPU)")
        self.auto_batch.setToolTip("On a GPU, find the largest batch that fits in memory")
        self.cache_memory = _spin(0, 1 << 20, 1024, "off (decode every epoch)", " MB")
        self.cache_memory.setSingleStep(256)
        self.cache_memory.setToolTip("Memory for decoded images, so later epochs skip "
                                     "decoding; beyond it they spill to a temporary file")
        self.compile = QCheckBox("torch.compile (long GPU runs)")
        self._two_stage = self._probe = False
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        rows = (("Epochs", self.epochs), ("Fine-tune from", self.probe_first),
                ("Head first for", self.head_epochs), ("Layer decay", self.layer_decay),
                ("BatchNorm statistics", self.freeze_bn),
                ("Batch size", self.batch_size),
                ("Learning rate", self.lr), ("", self.find_lr), ("Optimizer", self.optimizer),
                ("Schedule", self.schedule), ("Weight decay", self.weight_decay),
                ("Label smoothing", self.label_smoothing), ("Augmentation", self.augment),
                ("Image size", self.image_size), ("Mixed precision", self.mixed_precision),
                ("Device", self.device), ("Early stopping", self.early_stopping),
                ("Seed", self.seed), ("Auto batch size", self.auto_batch),
                ("Image cache", self.cache_memory), ("Compile", self.compile))
        for label, widget in rows:
            form.addRow(label, widget)
        self.early_stopping.setToolTip("Stop after this many epochs without a better "
                                       "validation score")
        for name, tip in TIPS.items():
            getattr(self, name).setToolTip(tip)
        self._gradient_only = (self.epochs, self.lr, self.find_lr, self.optimizer,
                               self.schedule, self.weight_decay, self.label_smoothing,
                               self.augment, self.early_stopping)
        self._tips = {w: w.toolTip() for w in self._gradient_only}
        self._connect()

    def _connect(self) -> None:
        for spin in (self.epochs, self.batch_size, self.image_size, self.early_stopping,
                     self.seed, self.weight_decay, self.label_smoothing, self.head_epochs,
                     self.layer_decay):
            spin.valueChanged.connect(self._on_edited)
        for combo in (self.optimizer, self.schedule, self.augment, self.device,
                      self.probe_first, self.freeze_bn):
            combo.currentIndexChanged.connect(self._on_edited)
        self.lr.textChanged.connect(self._on_edited)
        self.cache_memory.valueChanged.connect(self._on_edited)
        for box in (self.mixed_precision, self.auto_batch, self.compile):
            box.toggled.connect(self._on_edited)

    @Slot()
    def _on_edited(self, *_: object) -> None:
        self.edited.emit()

    def set_cuda_available(self, available: bool) -> None:
        item = self.device.model().item(self.device.findData("cuda"))
        item.setEnabled(available)
        item.setToolTip("" if available else "No CUDA GPU found")

    def _lr(self) -> float | None:
        text = self.lr.text().strip().replace(",", ".")
        try:
            value = float(text) if text else None
        except ValueError:
            return None
        return value if value and value > 0 else None

    def config(self) -> TrainConfig:
        try:
            return TrainConfig(
                epochs=self.epochs.value() or None, batch_size=self.batch_size.value(),
                lr=self._lr(), optimizer=self.optimizer.currentData(),
                schedule=self.schedule.currentData(),
                weight_decay=self.weight_decay.value(),
                label_smoothing=self.label_smoothing.value(),
                augment=self.augment.currentData(), image_size=self.image_size.value() or None,
                mixed_precision=self.mixed_precision.isChecked(),
                device=self.device.currentData(),
                early_stopping=self.early_stopping.value(), seed=self.seed.value(),
                auto_batch_size=self.auto_batch.isChecked(),
                cache_decoded=self.cache_memory.value() > 0,
                cache_memory_mb=self.cache_memory.value() or 1024,
                compile=self.compile.isChecked(),
                head_epochs=self.head_epochs.value() if self.head_epochs.value() >= 0 else None,
                probe_first=self.probe_first.currentData(),
                layer_decay=self.layer_decay.value() or None,
                freeze_bn=self.freeze_bn.currentData(),
            )
        except ConfigError:
            return TrainConfig()

    def set_config(self, train: TrainConfig) -> None:
        widgets = [self.epochs, self.batch_size, self.image_size, self.early_stopping, self.seed,
                   self.weight_decay, self.label_smoothing, self.optimizer, self.schedule,
                   self.augment, self.device, self.lr, self.mixed_precision, self.auto_batch,
                   self.cache_memory, self.compile, self.head_epochs, self.probe_first,
                   self.layer_decay, self.freeze_bn]
        for widget in widgets:
            widget.blockSignals(True)
        self.epochs.setValue(train.epochs or 0)
        self.batch_size.setValue(train.batch_size)
        self.image_size.setValue(train.image_size or 0)
        self.early_stopping.setValue(train.early_stopping)
        self.seed.setValue(train.seed)
        self.weight_decay.setValue(train.weight_decay)
        self.label_smoothing.setValue(train.label_smoothing)
        _set_combo(self.optimizer, train.optimizer)
        _set_combo(self.schedule, train.schedule)
        _set_combo(self.augment, train.augment)
        _set_combo(self.device, train.device)
        self.lr.setText(f"{train.lr:g}" if train.lr else "")
        self.mixed_precision.setChecked(train.mixed_precision)
        self.auto_batch.setChecked(train.auto_batch_size)
        self.cache_memory.setValue(train.cache_memory_mb if train.cache_decoded else 0)
        self.compile.setChecked(train.compile)
        self.head_epochs.setValue(-1 if train.head_epochs is None else train.head_epochs)
        _set_combo(self.probe_first, train.probe_first)
        self.layer_decay.setValue(train.layer_decay or 0)
        _set_combo(self.freeze_bn, train.freeze_bn)
        for widget in widgets:
            widget.blockSignals(False)

    def show_defaults(self, resolved: TrainConfig) -> None:
        """Show what "auto" means for the chosen strategy."""
        self.epochs.setSpecialValueText(f"auto ({resolved.epochs})")
        self.lr.setPlaceholderText(f"auto ({resolved.lr:g})")
        self.augment.setItemText(0, f"Auto ({resolved.augment})")
        self.head_epochs.setSpecialValueText(f"auto ({resolved.head_epochs})")
        decay = f"auto ({resolved.layer_decay:g})" if resolved.layer_decay else "auto (spread)"
        self.layer_decay.setSpecialValueText(decay)
        self._probe = bool(resolved.probe_first)
        self.head_epochs.setEnabled(self._two_stage and not self._probe)

    def set_strategy(self, strategy: str) -> None:
        """Enable the fields that mean something for `strategy`."""
        classic = strategy in CLASSIC_STRATEGIES
        for widget in self._gradient_only:
            widget.setEnabled(not classic)
            widget.setToolTip(CLASSIC_TIP if classic else self._tips[widget])
        if classic:
            self.epochs.setSpecialValueText("fitted once")
            self.lr.setPlaceholderText("not used")
        two_stage = self._two_stage = strategy in TWO_STAGE
        for widget in (self.probe_first, self.layer_decay, self.freeze_bn):
            widget.setEnabled(two_stage)
        self.head_epochs.setEnabled(two_stage and not self._probe)
        self.head_epochs.setToolTip(HEAD_EPOCHS_TIP if two_stage else
                                    "Two-stage training applies to fine-tuning")

    def replace(self, **changes: object) -> None:
        self.set_config(dataclasses.replace(self.config(), **changes))
        self.edited.emit()
