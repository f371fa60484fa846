"""What a dry-run update reports, field by field."""

from __future__ import annotations

from shared.streams.services import diff_configs


def test_only_changed_fields_are_listed_and_fixed_ones_are_flagged() -> None:
    before = {"name": "S", "storage": "file", "max_msgs": -1, "retention": "limits"}
    after = {**before, "storage": "memory", "max_msgs": 10}
    changes = {c.field: c for c in diff_configs(before, after)}
    assert set(changes) == {"storage", "max_msgs"}
    assert changes["max_msgs"].updatable and changes["max_msgs"].before == -1
    assert not changes["storage"].updatable and changes["storage"].reason


def test_retention_may_swap_between_limits_and_interest_but_not_workqueue() -> None:
    limits = {"retention": "limits"}
    assert diff_configs(limits, {"retention": "interest"})[0].updatable
    assert not diff_configs(limits, {"retention": "workqueue"})[0].updatable


def test_one_way_switches_may_be_turned_on_but_not_off() -> None:
    assert diff_configs({"deny_delete": False}, {"deny_delete": True})[0].updatable
    assert not diff_configs({"sealed": True}, {"sealed": False})[0].updatable
