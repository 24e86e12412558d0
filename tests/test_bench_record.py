"""The benchmark record (issue 18): each figure beside its baseline and target, a slip of more than 10%
marked, the baseline replaced only for the groups a run measured, and files that stay valid JSON. The
benchmarks themselves never run in the test suite; these check the bookkeeping on made-up rows."""

from __future__ import annotations

import json
import os
import sys

import pytest

from benchmarks import run as bench


def row(name: str, value: float, target: float, group: str = "predict", **extra) -> dict:
    return {
        "name": name,
        "value": value,
        "ratio": value,
        "target": target,
        "unit": "x import torch",
        "group": group,
        **extra,
    }


def test_a_ratio_more_than_ten_percent_worse_is_marked_and_counted(capsys):
    rows = [row("steady", 1.05, 1.2), row("slower", 1.19, 1.2), row("too slow", 1.3, 1.2)]
    baseline = {
        "steady": row("steady", 1.0, 1.2),
        "slower": row("slower", 1.0, 1.2),
        "too slow": row("too slow", 1.3, 1.2),
    }
    missed, slips = bench.report(rows, baseline)
    out = capsys.readouterr().out
    assert (missed, slips) == (1, 1)
    lines = {line.split("  ")[0]: line for line in out.splitlines()[2:]}
    assert "SLIPPED +19%" in lines["slower"] and "MISSED" not in lines["slower"]
    assert "SLIPPED" not in lines["steady"] and "MISSED" in lines["too slow"]
    assert "1.000" in lines["slower"] and "1.200" in lines["slower"]  # the baseline and the target beside it


def test_higher_is_better_figures_slip_downwards():
    base = row("accuracy", 0.78, 0.65, higher_is_better=True)
    assert bench.slipped(row("accuracy", 0.79, 0.65, higher_is_better=True), base) is None
    assert bench.slipped(row("accuracy", 0.60, 0.65, higher_is_better=True), base) == pytest.approx(0.18 / 0.78)


def test_noise_below_the_floor_is_not_a_slip():
    assert bench.slipped(row("help", 0.045, 0.05), row("help", 0.04, 0.05)) is None  # 12%, but 5 ms


def test_an_unmeasured_figure_misses_its_target_and_is_never_a_slip(capsys):
    missed, slips = bench.report(
        [row("auroc", float("nan"), 0.85, higher_is_better=True)],
        {"auroc": row("auroc", 0.9, 0.85, higher_is_better=True)},
    )
    assert (missed, slips) == (1, 0)
    assert "MISSED" in capsys.readouterr().out


def test_the_baseline_keeps_the_groups_a_run_did_not_measure(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "BASELINE", tmp_path / "baseline.json")
    first = {"started": "2026-12-01T10:00:00", "machine": {"cores": 2}}
    bench.save_baseline([row("help", 0.04, 0.05, "help"), row("one", 1.1, 1.1)], ["help", "predict"], first)
    second = {"started": "2026-12-02T10:00:00", "machine": {"cores": 2}}
    bench.save_baseline(
        [row("one", 1.05, 1.1), row("auroc", float("nan"), 0.85, "photos")], ["predict", "photos"], second
    )
    saved = json.loads((tmp_path / "baseline.json").read_text())  # strict JSON: NaN became null
    by_name = {r["name"]: r for r in saved["rows"]}
    assert by_name["help"]["value"] == 0.04 and by_name["help"]["run"] == first["started"]
    assert by_name["one"]["value"] == 1.05 and by_name["one"]["run"] == second["started"]
    assert by_name["auroc"]["value"] is None
    assert set(saved["runs"]) == {first["started"], second["started"]}
    assert not list(tmp_path.glob(".*.tmp"))


def test_photo_scores_count_shoes_by_their_three_classes_and_measure_calibration():
    import numpy as np

    from benchmarks import photo_set

    named = np.zeros((5, 10), bool)
    named[0, 0] = True  # a t-shirt
    named[1:3, [5, 7, 9]] = True  # two pairs of shoes; the last two photos are none of the ten (a hat)
    answers = photo_set.Answers(
        np.array([0, 7, 3, 0, 0]), np.array([0.9, 0.8, 0.95, 0.3, 0.7]), np.array([True, True, True, False, True])
    )
    report = photo_set.scores(named, named, ["t-shirt", "shoes", "shoes", "hat", "hat"], answers)
    assert report["strict_accuracy"] == 2 / 3 and report["per_category"] == {"shoes": 0.5, "t-shirt": 1.0}
    assert report["shoes_wrong_sure"] == 0.5, "the pair called a Dress was sure of it"
    # 15 bins: 0.8 and 0.9 right, 0.95 wrong -> |0.8-1|/3 + |0.9-1|/3 + |0.95-0|/3
    assert report["photo_ece"] == pytest.approx((0.2 + 0.1 + 0.95) / 3)
    assert report["unknown_not_sure"] == 0.5 and report["auroc"] == 1.0


BAD_FILES = {
    "truncated": b'{"rows": [',
    "a list": b"[]",
    "a row without a name": b'{"rows":[{"value":1}]}',
    "a true value": b'{"rows":[{"name":"x","value":true,"target":1}]}',
    "null": b"null",
}


@pytest.mark.parametrize("content", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_a_bad_baseline_stops_the_run_before_anything_runs(tmp_path, monkeypatch, capsys, content):
    """Issue 23 item 4: a damaged baseline is one line and exit 2 before a benchmark runs (not a
    traceback after 15 minutes)."""
    monkeypatch.setattr(bench, "BASELINE", tmp_path / "baseline.json")
    monkeypatch.setattr(bench, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(bench, "BENCHMARKS", {"help": lambda: pytest.fail("a benchmark ran")})
    monkeypatch.setattr(sys, "argv", ["run.py"])
    (tmp_path / "baseline.json").write_bytes(content)
    with pytest.raises(SystemExit) as done:
        bench.main()
    assert done.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "baseline.json" in err[0]


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_a_baseline_that_is_no_file_is_refused_without_waiting(tmp_path, monkeypatch, kind):
    monkeypatch.setattr(bench, "BASELINE", tmp_path / "baseline.json")
    if kind == "folder":
        (tmp_path / "baseline.json").mkdir()
    else:
        os.mkfifo(tmp_path / "baseline.json")  # read, it would wait for a writer forever
    with pytest.raises(bench.BadRecord, match="not a benchmark baseline"):
        bench.read_baseline()


def test_damaged_records_are_kept_aside_one_by_one_and_a_run_is_never_lost(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bench, "RESULTS", tmp_path / "results")
    day = tmp_path / "results" / "2026-12-07.json"
    day.parent.mkdir()
    for content in (b"null", b'{"a": 1}'):
        day.write_bytes(content)
        assert bench.check_results(day) == []
    assert sorted(p.read_bytes() for p in day.parent.glob("*.damaged-*.json")) == [b"null", b'{"a": 1}']
    assert bench.check_results(day) == []  # the damaged file moved away: a fresh day
    record = {"started": "2026-12-07T10:00:00", "machine": {}, "rows": [row("one", 1.0, 1.1)]}
    assert bench.record_run(day, [], record) == day and json.loads(day.read_text()) == [record]
    (tmp_path / "gone").write_text("")  # the record's folder replaced by a file during the run
    spare = bench.record_run(tmp_path / "gone" / "2026-12-07.json", [], record)
    assert json.loads(spare.read_text()) == [record]
    assert "this run is recorded in" in capsys.readouterr().err


def test_a_results_path_that_is_a_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "RESULTS", tmp_path / "results")
    (tmp_path / "results").write_text("")
    with pytest.raises(bench.BadRecord, match="not a folder"):
        bench.check_results(tmp_path / "results" / "x.json")


def test_true_is_not_a_number():
    assert bench.figure({"value": True}) is None
