"""The Model page's words: presets that differ read differently, shares that are never
rounded to 100 % or 0 % when they are not, and numbers that keep their units."""

from __future__ import annotations

import pytest

from transfer_gui.core.models.freezing import describe, select
from transfer_gui.core.wording import NBSP, format_count, human_duration, name_ranges, share
from transfer_gui.ui.engine_loader import BackboneRow
from transfer_gui.ui.pages import model_texts

LITE0 = "efficientnet_lite0"


@pytest.fixture(scope="module")
def lite0():
    return describe(LITE0, 10)


def test_fine_tune_top_reads_apart_from_full_fine_tune_and_names_what_is_frozen(lite0):
    top = select(lite0, "fine-tune", unfreeze=6)
    full = select(lite0, "full")
    assert top.frozen > 0 and full.frozen == 0
    assert top.summary() != full.summary()
    # the top 6 of 9 groups train: the stem and the first two stages (15.8 k) stay frozen
    assert f"(99.5{NBSP}%) · frozen: stem, stages 1-2 (15.8{NBSP}k)" in top.summary()
    assert full.summary().endswith(f"(100{NBSP}%) · nothing frozen")
    probe = select(lite0, "linear-probe")
    assert "frozen: the whole backbone" in probe.summary()
    two = select(lite0, "fine-tune", unfreeze=2)
    assert "frozen: stem, stages 1-6 (" in two.summary()


def test_from_scratch_with_a_frozen_layer_is_not_100_percent(lite0):
    scratch = select(lite0, "scratch", chosen=[g.name for g in lite0.groups
                                               if g.name != "stem"])
    assert scratch.frozen > 0
    assert "(100" not in model_texts.summary_text(scratch, "scratch")
    assert "frozen: stem" in scratch.summary()
    partly = select(lite0, "scratch", chosen=[n for n in lite0.sizes if n != "head.weight"])
    assert "part of head" in partly.summary()


@pytest.mark.parametrize(("part", "total", "text"), [
    (0, 10, "0 %"), (10, 10, "100 %"), (9999, 10_000, "> 99.9 %"), (1, 10_000, "< 0.1 %"),
    (996, 1000, "99.6 %"), (1, 4, "25 %"), (1, 3, "33.3 %"), (4, 1000, "0.4 %")])
def test_a_share_is_100_only_when_all_and_0_only_when_none(part, total, text):
    assert share(part, total).replace(NBSP, " ") == text


def test_no_share_of_a_part_rounds_to_all_or_nothing():
    total = 3_400_000
    for part in (1, 2, 17, 1699, total // 2, total - 1699, total - 17, total - 1):
        text = share(part, total)
        assert not text.startswith(("100", "0" + NBSP)), (part, text)


def test_numbers_keep_their_units_on_one_line(lite0):
    assert format_count(3_412_000) == f"3.4{NBSP}M" and format_count(12_810) == f"12.8{NBSP}k"
    assert human_duration(186) == f"3{NBSP}min 06{NBSP}s"
    classic = model_texts.summary_text(select(lite0, "logistic"), "logistic")
    assert f"3.4{NBSP}M parameters" in classic and "3.4 M" not in classic


def test_group_names_join_into_ranges():
    assert name_ranges(["stem", "stage1", "stage2", "stage4", "top"]) == \
        "stem, stages 1-2, stage4, top"
    assert name_ranges(["embed", "block1", "block2", "block3"]) == "embed, blocks 1-3"


def test_the_backbone_facts_say_the_imagenet_head_is_replaced(lite0):
    info = BackboneRow(LITE0, "EfficientNet-Lite0", 4_652_008, 224, 75.1, "bundled", "Small.")
    before = model_texts.backbone_facts(info, None)
    assert f"4.7{NBSP}M parameters" in before
    after = model_texts.backbone_facts(info, lite0).replace(NBSP, " ")
    head = sum(lite0.sizes[n] for n in lite0.sizes if n.startswith("head."))
    assert ("4.7 M parameters with its ImageNet head; 3.4 M without it + a new head for 10 "
            f"classes ({format_count(head).replace(NBSP, ' ')})") in after
