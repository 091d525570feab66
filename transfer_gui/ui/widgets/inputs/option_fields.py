"""Form fields made from the settings' declarations (`options_of` in the engine).

Each field is the widget its setting's kind asks for (a number box, a choice, a check box, a
typed number, a folder), with the label, tooltip, range and words the declaration gives. While
what is typed is not a valid value, the field says why in a line under it and outlines the
widget in red; `values()` then raises `ConfigError` instead of guessing a value.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen, QWheelEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from ....core import ConfigError
from .folder_field import FolderField

INVALID = QColor("#b33a3a")  # the colour of the form's error messages

# A mixin over a Qt widget: to the type checker it is a QWidget; at run time the widget class
# comes after it in the subclass's bases (PySide6 takes one Qt base per class).
if TYPE_CHECKING:
    _MixinBase = QWidget
else:
    _MixinBase = object


class _Outlined(_MixinBase):
    """Draws a red outline over the widget's own frame while its `invalid` property is set."""

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if self.property("invalid"):
            painter = QPainter(self)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(QPen(INVALID, 1.5))
            painter.drawRoundedRect(self.rect().adjusted(1, 1, -1, -1), 3, 3)


class _WheelWhenFocused(_MixinBase):
    """The mouse wheel changes the value only of the box being edited: over any other box it
    scrolls the form (weight decay went from 0.0001 to 0.0008 while the page scrolled)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # no focus by the wheel itself

    def wheelEvent(self, event: QWheelEvent) -> None:
        if self.hasFocus():
            super().wheelEvent(event)
        else:
            event.ignore()  # to the scroll area around the form


class _SpinBox(_WheelWhenFocused, _Outlined, QSpinBox):
    pass


class _DoubleSpinBox(_WheelWhenFocused, _Outlined, QDoubleSpinBox):
    pass


class _ComboBox(_WheelWhenFocused, QComboBox):
    pass


class _LineEdit(_Outlined, QLineEdit):
    pass


W = TypeVar("W", bound=QWidget, covariant=True)  # the kind of widget a field shows


class OptionField(QObject, Generic[W]):
    """One setting's widget and the message line under it."""

    changed = Signal()  # the value or what is typed changed

    def __init__(self, option: Any, widget: W) -> None:
        super().__init__(widget)
        self.option = option
        self.widget: W = widget
        self.widget.setToolTip(option.help)
        self.message = QLabel()
        self.message.setObjectName("errorText")
        self.message.setWordWrap(True)
        self._layout: QFormLayout | None = None
        self._write(option.default)

    def place(self, layout: QFormLayout) -> None:
        """Add the field's row, and the hidden row of its message, to `layout`."""
        layout.addRow(self.option.label, self.widget)
        layout.addRow("", self.message)
        layout.setRowVisible(self.message, False)
        self._layout = layout

    def value(self) -> Any:
        """The setting's value; `ConfigError` (naming the field's label) when it is invalid."""
        value = self._read()
        self.option.check(value, self.option.label)
        return value

    def values(self) -> dict[str, Any]:
        return {self.option.name: self.value()}

    def set_values(self, config: Any) -> None:
        """Show the setting's value in `config`, without reporting it as an edit."""
        self.widget.blockSignals(True)
        self._write(getattr(config, self.option.name))
        self.widget.blockSignals(False)

    def show_problem(self, message: str | None) -> None:
        self.message.setText(message or "")
        if self._layout is not None:
            self._layout.setRowVisible(self.message, bool(message))
        if bool(self.widget.property("invalid")) != bool(message):
            self.widget.setProperty("invalid", bool(message))
            self.widget.update()

    def show_resolved(self, value: Any) -> None:
        """Show what "auto" stands for now."""

    def show_special(self, text: str) -> None:
        """Show `text` where the value "auto" would be."""

    def _refuse(self, problem: str) -> ConfigError:
        return ConfigError(f"{self.option.label} {problem}", field=self.option.name)

    def _read(self) -> Any:
        raise NotImplementedError

    def _write(self, value: Any) -> None:
        raise NotImplementedError


class ChoiceField(OptionField[QComboBox]):
    def __init__(self, option: Any) -> None:
        combo = _ComboBox()
        for value, text in option.choices.items():
            combo.addItem(text, value)
        super().__init__(option, combo)
        combo.currentIndexChanged.connect(self.changed)

    def _read(self) -> Any:
        return self.widget.currentData()

    def _write(self, value: Any) -> None:
        self.widget.setCurrentIndex(max(self.widget.findData(value), 0))

    def show_resolved(self, value: Any) -> None:
        index = self.widget.findData(None)
        auto = self.option.choices[None].split(" (")[0]
        self.widget.setItemText(index, f"{auto} ({value})")


class CheckField(OptionField[QCheckBox]):
    def __init__(self, option: Any) -> None:
        super().__init__(option, QCheckBox(option.text))
        self.widget.toggled.connect(self.changed)

    def _read(self) -> Any:
        return self.widget.isChecked()

    def _write(self, value: Any) -> None:
        self.widget.setChecked(bool(value))


class NumberField(OptionField[QSpinBox | QDoubleSpinBox]):
    """A number box. Its lowest position shows `special`: None for a nullable setting (one
    step below the valid range), or with `off`, the companion setting turned off."""

    def __init__(self, option: Any) -> None:
        whole = option.kind is int
        spin: QSpinBox | QDoubleSpinBox = _SpinBox() if whole else _DoubleSpinBox()
        bottom = option.min if option.bottom is None else option.bottom
        self.lowest = bottom - (1 if whole and option.nullable else 0)  # in the value's units
        top = option.max if option.top is None else option.top
        if isinstance(spin, QDoubleSpinBox) and option.decimals is not None:
            spin.setDecimals(option.decimals)
        spin.setRange(self.lowest * option.scale, top * option.scale)
        if option.step is not None:
            spin.setSingleStep(option.step * option.scale)
        spin.setSpecialValueText(option.special)
        spin.setSuffix(option.suffix)
        super().__init__(option, spin)
        self._acceptable = True
        spin.valueChanged.connect(self.changed)
        spin.lineEdit().textChanged.connect(self._on_text)
        # leaving an emptied box puts the last value back: the form reads it again then (the
        # text's own signal comes before the box takes the value back)
        spin.editingFinished.connect(self._on_left)

    def _on_text(self, _text: str) -> None:
        """Text that gives no new value (an empty box, a number out of range, and the old
        value put back when the box loses focus) still changes whether the field is valid."""
        acceptable = self.widget.hasAcceptableInput()
        if not (acceptable and self._acceptable):
            self.changed.emit()
        self._acceptable = acceptable

    def _on_left(self) -> None:
        self._acceptable = self.widget.hasAcceptableInput()
        self.changed.emit()

    def values(self) -> dict[str, Any]:
        value = self.value()
        if not self.option.off:
            return {self.option.name: value}
        on = value != self.lowest
        return {self.option.name: value if on else self.option.default, self.option.off: on}

    def set_values(self, config: Any) -> None:
        on = getattr(config, self.option.off) if self.option.off else True
        self.widget.blockSignals(True)
        self._write(getattr(config, self.option.name) if on else self.lowest)
        self.widget.blockSignals(False)

    def _read(self) -> Any:
        if not self.widget.hasAcceptableInput():
            raise self._typed_problem(self.widget.cleanText())
        value = self.widget.value()
        if self.option.scale != 1:
            value /= self.option.scale
        return None if self.option.nullable and value <= self.lowest else value

    def _typed_problem(self, text: str) -> ConfigError:
        """Why the typed text is no value, in the units the box shows."""
        if not text:
            return self._refuse("is empty")
        try:
            shown = self.option.kind(text.replace(",", "."))
        except ValueError:
            return self._refuse(f"must be a number, not {text!r}")
        scale = self.option.scale
        rules = self.option if scale == 1 else dataclasses.replace(
            self.option, min=_times(self.option.min, scale), max=_times(self.option.max, scale))
        return self._refuse(rules.problem(shown) or
                            f"must be at most {self.widget.maximum():g}, not {shown:g}")

    def _write(self, value: Any) -> None:
        self.widget.setValue((self.lowest if value is None else value) * self.option.scale)

    def show_resolved(self, value: Any) -> None:
        shown = self.option.unresolved if value is None else f"{value:g}"
        self.show_special(f"{self.option.special} ({shown})" if shown else self.option.special)

    def show_special(self, text: str) -> None:
        self.widget.setSpecialValueText(text)


def _times(bound: float | None, scale: float) -> float | None:
    return None if bound is None else bound * scale


class EntryField(OptionField[QLineEdit]):
    """A number typed as text; empty means None (the placeholder says what that is)."""

    def __init__(self, option: Any) -> None:
        edit = _LineEdit()
        edit.setPlaceholderText(option.special)
        super().__init__(option, edit)
        edit.textChanged.connect(self.changed)

    def _read(self) -> Any:
        text = self.widget.text().strip()
        if not text:
            return None
        try:
            return self.option.kind(text.replace(",", "."))
        except ValueError:
            raise self._refuse(f"must be a number, not {text!r}") from None

    def _write(self, value: Any) -> None:
        self.widget.setText("" if value is None else f"{value:g}")

    def show_resolved(self, value: Any) -> None:
        self.show_special(f"{self.option.special} ({value:g})")

    def show_special(self, text: str) -> None:
        self.widget.setPlaceholderText(text)


class TextField(OptionField[QLineEdit]):
    """Words typed as text (task weights: NAME=W, ...); the core checks what they say."""

    def __init__(self, option: Any) -> None:
        edit = _LineEdit()
        edit.setPlaceholderText(option.special or "each task weighs 1")
        super().__init__(option, edit)
        edit.textChanged.connect(self.changed)

    def _read(self) -> Any:
        return self.widget.text().strip()

    def _write(self, value: Any) -> None:
        self.widget.setText(value or "")


class FolderOptionField(OptionField[FolderField]):
    """A folder, chosen with a dialog (the form decides when to ask)."""

    def __init__(self, option: Any) -> None:
        super().__init__(option, FolderField())

    def _read(self) -> Any:
        return self.widget.path or None

    def _write(self, value: Any) -> None:
        self.widget.set_path(value)


def make_field(option: Any) -> OptionField[QWidget]:
    """The field for `option`: a choice, a check box, a typed or spun number, or a folder."""
    if option.choices is not None:
        return ChoiceField(option)
    if option.kind is bool:
        return CheckField(option)
    if option.kind in (int, float):
        return EntryField(option) if option.entry else NumberField(option)
    if option.kind is str and option.entry:
        return TextField(option)
    return FolderOptionField(option)


K = TypeVar("K", bound=QWidget)


def widget_of(field: OptionField[QWidget], kind: type[K]) -> K:
    """`field`'s widget, which the caller knows to be a `kind` (a form reaching for another
    kind of widget is a programming error, named here rather than at the first call on it)."""
    widget = field.widget
    if not isinstance(widget, kind):
        raise TypeError(f"the field {field.option.name!r} shows a {type(widget).__name__}, "
                        f"not a {kind.__name__}")
    return widget


def make_fields(options: tuple[Any, ...]) -> dict[str, OptionField[QWidget]]:
    """A field for every option on the form, by setting name."""
    return {o.name: make_field(o) for o in options if o.form}


def problems_of(fields: dict[str, OptionField[QWidget]]
                ) -> tuple[dict[str, Any], dict[str, str]]:
    """The fields' values, and the message of each field that has none."""
    values: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for name, field in fields.items():
        try:
            values.update(field.values())
        except ConfigError as exc:
            problems[name] = str(exc)
    return values, problems
