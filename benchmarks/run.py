"""`make bench`: every speed, memory and accuracy target of fashionnet, measured as ratios in one run.

The machines are noisy, so each target compares against a baseline measured in the same run
(`python -c "import torch"`, or one epoch of the tutorial's own training loop), with medians of
several runs for the short commands. Prints a table, writes bench-results/latest.json, and exits 1
when a target is missed.

    python benchmarks/run.py            # everything (about 5 minutes on 2 cores)
    python benchmarks/run.py --only help,summary,evaluate
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
FASHIONNET = [str(BIN / "fashionnet")] if (BIN / "fashionnet").exists() else [sys.executable, "-m", "fashionnet"]
IMPORT_TORCH = [sys.executable, "-c", "import torch"]
ENV = {**os.environ, "NO_COLOR": "1", "FASHIONNET_DEVICE": "cpu"}


def run(cmd: list[str], **kwargs) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, env=ENV, **kwargs)
    seconds = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"benchmark command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr.decode()[-2000:]}")
    return seconds, proc


def ratio_to_import_torch(cmd: list[str], repeats: int = 9) -> dict:
    """Best-of-N wall time of `cmd` over best-of-N of `python -c "import torch"`, runs interleaved.

    Noise on a shared machine only ever adds time, so the fastest run is the best estimate of the cost
    (as `timeit` reports); the ratio of medians is recorded too.
    """
    run(cmd)  # warm the file cache once
    base, mine = [], []
    for _ in range(repeats):
        base.append(run(IMPORT_TORCH)[0])
        mine.append(run(cmd)[0])
    return {
        "seconds": min(mine), "import_torch_seconds": min(base), "ratio": min(mine) / min(base),
        "median_ratio": statistics.median(mine) / statistics.median(base),
    }


def peak_rss_run(cmd: list[str]) -> tuple[float, int, str]:
    """Wall seconds, peak resident memory (bytes) and stdout of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=ENV)
    out = proc.stdout.read().decode()
    _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"benchmark command failed: {' '.join(cmd)}")
    return seconds, usage.ru_maxrss * 1024, out


# ---- the benchmarks ------------------------------------------------------------------------------


def bench_help() -> list[dict]:
    rows = []
    for args in (["--help"], ["summary", "--help"], ["train", "--help"], ["export", "--help"]):
        r = ratio_to_import_torch([*FASHIONNET, *args])
        rows.append({"name": f"fashionnet {' '.join(args)}", **r, "target": 0.15, "unit": "x import torch"})
    return rows


def bench_summary() -> list[dict]:
    r = ratio_to_import_torch([*FASHIONNET, "summary"])
    return [{"name": "fashionnet summary", **r, "target": 1.20, "unit": "x import torch"}]


def bench_evaluate() -> list[dict]:
    r = ratio_to_import_torch([*FASHIONNET, "evaluate", "--json"], repeats=5)
    return [{"name": "fashionnet evaluate (10,000 test images)", **r, "target": 1.30, "unit": "x import torch"}]


def tutorial_epoch_seconds() -> float:
    _, proc = run([sys.executable, str(ROOT / "benchmarks" / "tutorial_epoch.py")])
    return json.loads(proc.stdout)["seconds"]


def bench_training() -> list[dict]:
    # The tutorial epoch is timed before and after our run and averaged, so a burst of load on the
    # shared machine weighs on both sides alike.
    before = tutorial_epoch_seconds()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.safetensors"
        wall, rss, stdout = peak_rss_run([*FASHIONNET, "train", "--json", "--quiet", "--out", str(out), "--seed", "0"])
    tutorial = (before + tutorial_epoch_seconds()) / 2
    summary = json.loads(stdout)
    epoch = statistics.median(h["seconds"] for h in summary["history"])
    return [
        {"name": "one training epoch / tutorial epoch", "seconds": epoch, "tutorial_epoch_seconds": tutorial,
         "ratio": epoch / tutorial, "target": 1 / 3, "unit": "x tutorial epoch"},
        {"name": f"default recipe, {summary['epochs']} epochs, total", "seconds": summary["seconds"],
         "tutorial_epoch_seconds": tutorial, "ratio": summary["seconds"] / tutorial, "target": 8.0,
         "unit": "x tutorial epoch"},
        {"name": "default recipe test accuracy", "value": summary["test_accuracy"], "ratio": summary["test_accuracy"],
         "target": 0.905, "higher_is_better": True, "unit": "top-1"},
        {"name": "peak memory of train (whole process)", "value": rss / 1e9, "ratio": rss / 1e9, "target": 1.5,
         "unit": "GB", "process_wall_seconds": wall},
    ]


def bench_predict() -> list[dict]:
    from benchmarks.predict_sets import export_test_pngs, export_photo_like

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clean_dir, labels = export_test_pngs(tmp / "clean")
        one = sorted(clean_dir.iterdir())[0]
        r = ratio_to_import_torch([*FASHIONNET, "predict", str(one)])
        rows.append({"name": "fashionnet predict one.png", **r, "target": 1.25, "unit": "x import torch"})
        r = ratio_to_import_torch([*FASHIONNET, "predict", str(clean_dir), "--json"], repeats=5)
        rows.append({"name": "predict 10,000 test PNGs", **r, "target": 2.0, "unit": "x import torch"})

        predicted = _accuracy([*FASHIONNET, "predict", str(clean_dir), "--json"], labels)
        _, proc = run([*FASHIONNET, "evaluate", "--json"])
        evaluated = json.loads(proc.stdout)["accuracy"]
        rows.append({"name": "predict vs evaluate accuracy gap (points)", "value": abs(predicted - evaluated) * 100,
                     "ratio": abs(predicted - evaluated) * 100, "target": 0.1, "unit": "points",
                     "predict_accuracy": predicted, "evaluate_accuracy": evaluated})

        photo_dir, photo_labels = export_photo_like(tmp / "photos")
        photo = _accuracy([*FASHIONNET, "predict", str(photo_dir), "--json"], photo_labels)
        rows.append({"name": "photo-like variants: accuracy drop (points)", "value": (evaluated - photo) * 100,
                     "ratio": (evaluated - photo) * 100, "target": 5.0, "unit": "points",
                     "photo_accuracy": photo, "clean_accuracy": evaluated, "photos": len(photo_labels)})
    return rows


def _accuracy(cmd: list[str], labels: dict[str, int]) -> float:
    _, proc = run(cmd)
    correct = 0
    for line in proc.stdout.decode().splitlines():
        row = json.loads(line)
        if "index" in row:
            correct += row["index"] == labels[Path(row["path"]).stem]
    return correct / len(labels)


def bench_photos() -> list[dict]:
    """Issue 15: the photo hold-out (614 of the 3,068 labelled photos, never trained on, never used to choose
    a setting), calibration and "not sure". From `predict` on the photo files when this machine has a copy
    of them, else from the shipped drawings (each photo's own drawing: close to predict's figures, which
    also average over the mask variants, but not equal; the rows say which)."""
    import numpy as np

    from benchmarks import photo_set
    from fashionnet import photos
    from fashionnet.calibration import DEFAULT_THRESHOLD

    rows = []
    _, proc = run([*FASHIONNET, "evaluate", "--json"])
    ece = json.loads(proc.stdout)["calibration_error"]
    rows.append({"name": "test-set calibration error (ECE)", "value": ece, "ratio": ece, "target": 0.025, "unit": "ECE"})
    drawings = photos.load()
    which = drawings.in_part(photos.HOLDOUT)
    folder = photos.locate_photos()
    if folder is not None:
        source = "predict on the photo files"
        with tempfile.TemporaryDirectory() as tmp:
            listing = Path(tmp) / "photos"
            listing.mkdir()
            for i, index in enumerate(which[:: max(1, len(which) // 100)][:100]):  # 100 across all categories
                (listing / f"{i:03d}.jpg").symlink_to(folder / str(drawings.path[index]))
            r = ratio_to_import_torch([*FASHIONNET, "predict", str(listing), "--json"], repeats=3)
            rows.append({"name": "predict 100 photos of 400 px", **r, "target": 2.0, "unit": "x import torch"})
        paths = [str(folder / str(drawings.path[i])) for i in which]
        _, proc = run([*FASHIONNET, "predict", *paths, "--json"])
        found = {row["path"]: row for row in map(json.loads, proc.stdout.decode().splitlines())}
        answers = photo_set.Answers(np.array([found[p].get("index", -1) for p in paths]),
                                    np.array([found[p].get("score", 0.0) for p in paths]),
                                    np.array([bool(found[p].get("sure")) for p in paths]))
    else:
        import torch

        from fashionnet.weights import load_model

        source = "shipped drawings (no mask variants)"
        print("photos: no copy of the photos here (../shared/data/clothing-photos or $FASHIONNET_PHOTOS): the hold-out "
              "figures come from the shipped drawings, without the mask variants predict averages over, and the "
              "100-photo speed row is skipped", file=sys.stderr)
        model, info = load_model(None, 0, torch.device("cpu"))
        answers = photo_set.from_drawings(drawings, which, model, info.temperature, DEFAULT_THRESHOLD)
    names = [str(drawings.categories[c]) for c in drawings.category[which]]
    report = photo_set.scores(drawings.named[which], drawings.acceptable[which], names, answers)
    for key, label, target in (
        ("strict_accuracy", "photos: strict accuracy", 0.65),
        ("balanced_accuracy", "photos: class-balanced accuracy", 0.62),
        ("acceptable_accuracy", "photos: acceptable-class accuracy", 0.75),
        ("auroc", "photos: AUROC hat/shorts/skirt vs known", 0.85),
        ("unknown_not_sure", "photos: hat/shorts/skirt marked not sure", 0.60),
        ("correct_sure", "photos: correct answers kept sure", 0.80),
    ):
        rows.append({"name": label, "value": report[key], "ratio": report[key], "target": target, "unit": "share",
                     "higher_is_better": True, "photos": report["photos"], "source": source})
    for category, accuracy in report["per_category"].items():  # no target of their own: shown, never missed
        rows.append({"name": f"photos: {category} accuracy", "value": accuracy, "ratio": accuracy, "target": 0.0,
                     "unit": "share (no target)", "higher_is_better": True, "source": source})
    rows[-1]["detail"] = report
    return rows


def bench_explain() -> list[dict]:
    """Issue 16: `explain` on one picture (a FashionMNIST PNG, and a phone photo whose garment is found
    while torch is imported), target 1.3x `python -c "import torch"`."""
    samples = ROOT / "fashionnet" / "samples"
    rows = []
    for label, picture in (("a 28x28 PNG", samples / "6-shirt.png"), ("a phone photo", samples / "photos" / "t-shirt.jpg")):
        r = ratio_to_import_torch([*FASHIONNET, "explain", str(picture)], repeats=7)
        rows.append({"name": f"fashionnet explain ({label})", **r, "target": 1.30, "unit": "x import torch"})
    return rows


BENCHMARKS = {"help": bench_help, "summary": bench_summary, "evaluate": bench_evaluate,
              "training": bench_training, "predict": bench_predict, "photos": bench_photos,
              "explain": bench_explain}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated subset of: " + ", ".join(BENCHMARKS))
    args = parser.parse_args()
    chosen = args.only.split(",") if args.only else list(BENCHMARKS)
    rows = []
    for name in chosen:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        rows += BENCHMARKS[name]()
    failed = 0
    print(f"\n{'benchmark':<46} {'measured':>10} {'target':>8}  unit (start-up ratios: best of N runs)")
    for row in rows:
        ok = row["ratio"] >= row["target"] if row.get("higher_is_better") else row["ratio"] <= row["target"]
        row["ok"] = ok
        failed += not ok
        print(f"{row['name']:<46} {row['ratio']:>10.3f} {row['target']:>8.3f}  {row['unit']}  {'ok' if ok else 'MISSED'}")
    results = ROOT / "bench-results"
    results.mkdir(exist_ok=True)
    (results / "latest.json").write_text(json.dumps(rows, indent=2))
    print(f"\n{len(rows) - failed} of {len(rows)} targets met; details in bench-results/latest.json")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
