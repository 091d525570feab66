"""The loop's contract: hooks declare where they run, and an order that matters is never left to
a list. Also the best-epoch rule, a hook of its own."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import pytest

from transfer_gui.core.train.best import BestEpoch, beats_probe, better, judge
from transfer_gui.core.train.classic import ClassicHead
from transfer_gui.core.train.dist.parts import InStep
from transfer_gui.core.train.hooks import (
    PARTS,
    EarlyStopping,
    Hook,
    HookOrderError,
    Hooks,
    RunState,
    order_hooks,
)
from transfer_gui.core.train.lpft import Probe
from transfer_gui.core.train.runrecord import Recording
from transfer_gui.core.train.stages import Stages
from transfer_gui.core.train.tboard import TensorBoard
from transfer_gui.core.train.transfer.adaptation import Adaptation
from transfer_gui.core.train.transfer.paired import Pairing


def _names(hooks: list[Hook]) -> list[str]:
    return [h.name for h in hooks]


def _bare(cls: type[Hook]) -> Hook:
    """An instance of `cls` without its constructor (only its declarations are used)."""
    return cls.__new__(cls)


RUN_HOOKS = (Pairing, Stages, Probe, BestEpoch, Recording, TensorBoard, EarlyStopping)


@pytest.mark.parametrize("given", [RUN_HOOKS, tuple(reversed(RUN_HOOKS)),
                                   (EarlyStopping, Recording, TensorBoard, BestEpoch, Probe,
                                    Stages, Pairing)])
def test_the_run_hooks_sort_into_the_one_order_whatever_the_list(given):
    hooks = order_hooks([_bare(c) for c in given])
    assert _names(hooks) == ["pairing", "stages", "probe", "best", "record", "tensorboard",
                             "early-stopping"]


def test_the_named_constraints_hold():
    order = _names(order_hooks([_bare(c) for c in reversed(RUN_HOOKS)]))
    # the stages build the schedule before the record restores it
    assert order.index("stages") < order.index("record")
    # the probe fills the epoch's row before it is judged and recorded
    assert order.index("probe") < order.index("best") < order.index("record")
    # early stopping follows the record (and the rule it counts)
    assert order.index("record") < order.index("early-stopping")


@pytest.mark.parametrize("optional", list(itertools.product([False, True], repeat=5)))
@pytest.mark.parametrize("classic", [False, True])
def test_every_set_of_hooks_a_run_makes_is_ordered(classic, optional):
    """As the loop lists them (a second folder's pairing, domain adaptation, several processes,
    TensorBoard, early stopping optional)."""
    pairing, adapting, processes, tensorboard, stopping = optional
    parts = [InStep] * processes
    parts += [ClassicHead] if classic else [Pairing] * pairing + [Stages, Probe]
    parts += [Adaptation] * adapting
    parts += [TensorBoard] * tensorboard + [EarlyStopping] * stopping
    names = _names(order_hooks([_bare(c) for c in (*parts, BestEpoch, Recording)]))
    assert names.index("best") < names.index("record")
    if adapting:  # the target accuracy joins the row before it is judged and kept
        first = "classic" if classic else "probe"
        assert names.index(first) < names.index("adaptation") < names.index("best")
    assert names[-1] == "early-stopping" if stopping else names[-1] in ("record", "tensorboard")


def test_a_classic_head_runs_before_the_rule_and_the_record():
    hooks = order_hooks([_bare(c) for c in (EarlyStopping, Recording, BestEpoch, ClassicHead)])
    assert _names(hooks) == ["classic", "best", "record", "early-stopping"]


def test_every_hook_declares_a_name_and_known_parts():
    for cls in (*RUN_HOOKS, ClassicHead, Adaptation, InStep):
        assert cls.name and (cls.reads | cls.writes) <= PARTS


class _RowWriter(Hook):
    name = "row-writer"
    writes = frozenset({"row"})


def test_an_undefined_order_that_matters_is_refused():
    """A hook that writes the row, with no declared place beside the rule that reads it."""
    with pytest.raises(HookOrderError, match=r"row-writer and best.*row"):
        Hooks([_RowWriter(), BestEpoch()])
    with pytest.raises(HookOrderError, match="best and row-writer"):
        Hooks([BestEpoch(), _RowWriter()])


def test_the_same_hook_with_its_order_declared_is_accepted():
    class Declared(_RowWriter):
        before = ("best",)

    assert _names(Hooks([BestEpoch(), Declared()]).hooks) == ["row-writer", "best"]


def test_an_order_through_another_hook_counts():
    class First(Hook):
        name, writes, before = "first", frozenset({"notes"}), ("middle",)

    class Middle(Hook):
        name = "middle"

    class Last(Hook):
        name, reads, after = "last", frozenset({"notes"}), ("middle",)

    assert _names(Hooks([Last(), First(), Middle()]).hooks) == ["first", "middle", "last"]
    with pytest.raises(HookOrderError):  # without the middle one the order is undefined
        Hooks([Last(), First()])


def test_hooks_that_share_nothing_keep_the_order_given():
    class A(Hook):
        name = "a"

    class B(Hook):
        name = "b"

    assert _names(Hooks([B(), A()]).hooks) == ["b", "a"]


def test_a_declared_cycle_is_refused():
    class Ping(Hook):
        name, after = "ping", ("pong",)

    class Pong(Hook):
        name, after = "pong", ("ping",)

    with pytest.raises(HookOrderError, match="cycle"):
        Hooks([Ping(), Pong()])


def test_an_unknown_part_is_refused():
    class Typo(Hook):
        name, writes = "typo", frozenset({"rows"})

    with pytest.raises(HookOrderError, match="unknown parts"):
        Hooks([Typo()])


# --- the best-epoch rule ------------------------------------------------------------------


def _judged(rows: list[dict], val_images: int | None = 10) -> tuple[RunState, list[bool]]:
    state, verdicts = RunState(), []
    for row in rows:
        state.history.append(row)
        verdicts.append(judge(state, row, val_images))
    return state, verdicts


def _row(epoch: int, acc: float | None, loss: float | None, **extra) -> dict:
    return {"epoch": epoch, "val_acc": acc, "val_loss": loss, **extra}


def test_higher_accuracy_then_lower_loss_is_best_and_the_wait_is_counted():
    state, verdicts = _judged([_row(1, 0.5, 1.0), _row(2, 0.7, 0.9), _row(3, 0.7, 0.95),
                               _row(4, 0.6, 0.5), _row(5, 0.7, 0.8)])
    assert verdicts == [True, True, False, False, True]
    assert (state.best_epoch, state.best_acc, state.best_loss) == (5, 0.7, 0.8)
    assert state.bad_epochs == 0
    state, _ = _judged([_row(1, 0.5, 1.0), _row(2, 0.4, 0.9), _row(3, 0.5, 1.0)])
    assert state.best_epoch == 1 and state.bad_epochs == 2


def test_without_validation_the_latest_epoch_is_kept():
    state, verdicts = _judged([_row(1, None, None), _row(2, None, None)])
    assert verdicts == [True, True] and state.best_epoch == 2


def test_the_probe_is_replaced_only_with_a_clear_lead():
    probe = _row(1, 0.6, 0.9, stage="probe")
    _, verdicts = _judged([probe, _row(2, 0.7, 0.8)], val_images=10)  # one more image right
    assert verdicts == [True, False]
    _, verdicts = _judged([probe, _row(2, 0.8, 0.8)], val_images=10)  # two more
    assert verdicts == [True, True]
    assert better(0.5, 1.0, 0.5, 1.1) and not better(0.5, 1.1, 0.5, 1.0)
    assert beats_probe(0.8, 0.6, 10) and not beats_probe(0.7, 0.6, 10)


def test_the_rule_as_a_hook_sets_is_best_on_the_run():
    run = RunState()
    fit = SimpleNamespace(run=run, row=None, is_best=False,
                          prep=SimpleNamespace(val=[object()] * 10))
    rule = BestEpoch()
    for row, expected in ((_row(1, 0.5, 1.0), True), (_row(2, 0.4, 1.0), False)):
        run.history.append(row)
        fit.row = row
        rule.on_epoch_end(fit)  # type: ignore[arg-type]
        assert fit.is_best is expected
    assert run.best_epoch == 1 and run.bad_epochs == 1


class _Count(Hook):
    """A hook whose state names its part "count", as another hook's may too."""

    def __init__(self, count: int) -> None:
        self.count = count

    def state_dict(self) -> dict:
        return {"count": self.count}

    def load_state_dict(self, state: dict) -> None:
        self.count = state.get("count", -1)


def _Counter(name: str, count: int = 0) -> Hook:
    """A `_Count` hook named `name`."""
    return type(f"Count_{name}", (_Count,), {"name": name})(count)


def test_two_hooks_with_the_same_key_keep_their_own_state():
    saved = Hooks([_Counter("seen", 3), _Counter("skipped", 5)]).state_dict()
    seen, skipped = _Counter("seen"), _Counter("skipped")
    Hooks([seen, skipped]).load_state_dict(saved)
    assert (seen.count, skipped.count) == (3, 5)


def test_two_hooks_of_one_name_keep_their_own_state():
    saved = Hooks([_Counter("tally", 3), _Counter("tally", 5)]).state_dict()
    first, second = _Counter("tally"), _Counter("tally")
    Hooks([first, second]).load_state_dict(saved)
    assert (first.count, second.count) == (3, 5)


def test_a_hook_absent_from_the_checkpoint_gets_an_empty_state():
    saved = Hooks([_Counter("seen", 3)]).state_dict()
    seen, new = _Counter("seen"), _Counter("new", 7)
    Hooks([seen, new]).load_state_dict(saved)
    assert (seen.count, new.count) == (3, -1)


def test_a_checkpoint_of_the_flat_format_still_loads():
    """Checkpoints written before the hooks' states were keyed held them in one flat dict."""
    hook = _Counter("seen")
    Hooks([hook]).load_state_dict({"model": {}, "optimizer": {}, "count": 4})
    assert hook.count == 4
