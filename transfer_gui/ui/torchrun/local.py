"""All GPUs of this computer: torchrun as a child process, followed through its run folder."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QProcess, Signal

from ...core import RunConfig, local_launch_command, save_run_config


class LocalLaunch(QObject):
    """`torchrun` training `config` into `run_dir` on `processes` processes. Stop sends it
    SIGTERM, which every process answers by stopping at the same batch (the run resumable).
    `finished(code)` when it has ended; `failed(message)` instead when it could not start
    (QProcess then never finishes); its output goes to `output(text)`. In the app bundle the
    app's own executable runs the launcher (`core.local_launch_command`)."""

    finished = Signal(int)
    failed = Signal(str)
    output = Signal(str)

    def __init__(self, config: RunConfig, run_dir: str, processes: int,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        run = Path(run_dir)
        run.parent.mkdir(parents=True, exist_ok=True)
        self.config_path = run.with_name(f"{run.name}.config.json")
        save_run_config(self.config_path, config)
        self.command = local_launch_command(processes, self.config_path, run)
        self.process = QProcess(self)
        self.process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        self.process.readyReadStandardOutput.connect(self._read)
        self.process.finished.connect(lambda code, _status: self.finished.emit(int(code)))
        self.process.errorOccurred.connect(self._on_error)

    def start(self) -> None:
        self.process.start(self.command[0], self.command[1:])

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self.failed.emit(f"{self.command[0]} could not be started: "
                             f"{self.process.errorString()}")

    def _read(self) -> None:
        text = bytes(self.process.readAllStandardOutput().data()).decode(errors="replace")
        if text.strip():
            self.output.emit(text.rstrip())

    @property
    def running(self) -> bool:
        return self.process.state() != QProcess.ProcessState.NotRunning

    def stop(self) -> None:
        if self.running:
            self.process.terminate()
