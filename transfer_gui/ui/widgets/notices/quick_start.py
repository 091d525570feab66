"""Help > Quick start: the steps, the strategies and where the runs are kept, in the window."""

from __future__ import annotations

import html

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from ....core import STRATEGY_NAMES

STEPS = (
    ("Data", "Choose or drop a folder with one sub-folder of images per class (for example "
             "<i>photos/cats/…</i> and <i>photos/dogs/…</i>), or <i>train/</i> and "
             "<i>val/</i> folders of classes. Check the class counts and the Problems tab; "
             "set the share of images kept for validation."),
    ("Model", "Pick a backbone: <i>bundled</i> and <i>cached</i> ones work offline. Choose "
              "a strategy with the buttons above the layer tree, or tick layers by hand: "
              "checked layers train."),
    ("Train", "The defaults suit each strategy; <i>Find learning rate…</i> measures a rate "
              "on your data. Press <b>Start</b>. Stop keeps the best model and can be "
              "resumed."),
    ("Evaluate", "Accuracy, the confusion matrix (click a cell to see its images), the "
                 "scores of each class and the images the model got most wrong."),
    ("Predict", "Drop images or folders to classify them; Grad-CAM shows where the model "
                "looked. Before training, the network's own ImageNet classes answer."),
    ("Compare", "Train several strategies on the same split and see which one pays off."),
)
STRATEGIES = (  # the strategies' names are declared once, with the settings
    (STRATEGY_NAMES["linear-probe"],
     "Only a new head trains, on the frozen network's features. The fastest; a good first "
     "try, and enough when your images look like photographs."),
    (STRATEGY_NAMES["fine-tune"],
     "The head and the last N layer groups train; earlier groups get smaller learning rates. "
     "Usually the best with a few hundred images per class."),
    (STRATEGY_NAMES["full"],
     "Every layer trains, starting from a converged linear probe (LP-FT), and it never "
     "ends worse than that probe. For larger data sets, or images unlike everyday "
     "photographs."),
    (STRATEGY_NAMES["scratch"],
     "The same network with random weights: the baseline that shows what pretraining "
     "bought."),
    ("Classic head", "Logistic regression or k-nearest neighbours on the frozen features: "
                     "no gradient, fitted in seconds."),
    ("Transfer (Train page)", "Joint training with a second labelled folder, or domain "
                              "adaptation (DANN, CORAL) towards a folder of unlabelled images "
                              "from where the model will be used."),
)


def quick_start_html(runs_folder: str) -> str:
    steps = "".join(f"<li><b>{name}</b> — {text}</li>" for name, text in STEPS)
    rows = "".join(f"<tr><td><b>{name}</b></td><td>{text}</td></tr>"
                   for name, text in STRATEGIES)
    return (
        "<h2>Quick start</h2><p>Six steps, one per page of the sidebar (Ctrl+1 … Ctrl+6):</p>"
        f"<ol>{steps}</ol><h3>Strategies</h3>"
        f"<table cellspacing='0' cellpadding='4'>{rows}</table>"
        "<h3>Where the runs are kept</h3><p>Each training run is a folder with its settings "
        "(<i>run.json</i>), the best weights, a checkpoint to resume from and a log of every "
        "epoch. A saved project keeps its runs in a folder beside the project file "
        "(<i>name-runs</i>); until it is saved they go to "
        f"<i>{html.escape(runs_folder)}</i>. <b>File › Export model…</b> writes a run's "
        "model for use elsewhere.</p>"
    )


class QuickStart(QDialog):
    def __init__(self, runs_folder: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Quick start")
        self.text = QTextBrowser()
        self.text.setOpenExternalLinks(True)
        self.text.setHtml(quick_start_html(runs_folder))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
        self.resize(640, 600)
