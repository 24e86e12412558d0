"""Where `fashionnet predict` spends its time, stage by stage: the table in docs/benchmarks.md.

Each workload runs in a fresh process (cold imports, as the command has them), every stage one after the
other on one core, so the seconds are each stage's own cost; in the real command the decoding and
preprocessing run in worker processes while torch is imported. The command's wall time is measured too,
interleaved with `python -c "import torch"`, best of N.

    python benchmarks/where_time_goes.py            # 10,000 test PNGs, 100 photos, one PNG
    python benchmarks/where_time_goes.py --runs 5
    mkdir /tmp/before && git archive 565575e | tar -x -C /tmp/before
    python benchmarks/where_time_goes.py --runs 5 --before /tmp/before   # before issue 18, and now
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STAGES = (
    ("start", "start-up: Python, the CLI, collecting the inputs"),
    ("import", "import torch, load the weights"),
    ("decode", "decode (Pillow reads the pixels)"),
    ("preprocess", "preprocess (grayscale, trim, 28x28; GrabCut for photos)"),
    ("forward", "forward (the model, batches of 512)"),
    ("output", "output (answers, JSON Lines)"),
    ("exit", "exit (interpreter teardown)"),
)

# Runs in a fresh interpreter: prints one JSON object of stage -> seconds, then exits the way the CLI does.
STAGED = r"""
import time, sys, json, os
t0 = time.perf_counter()
import fashionnet.cli
from fashionnet.predict import CPU_THREADS, _flush, BATCH_SIZE
try:
    from fashionnet.inputs import collect_inputs
except ImportError:  # a checkout from before the inputs module (--tree)
    from fashionnet.predict import collect_inputs
from fashionnet.render.predict import write_jsonl
items = collect_inputs(sys.argv[1:])
t1 = time.perf_counter()
import fashionnet
if not os.path.exists(os.path.join(os.path.dirname(fashionnet.__file__), "startup.py")):
    # a checkout from before issue 18 (--tree): plain import, torch's threads, full exit
    import torch
    def exit_now(code):
        sys.exit(code)
else:
    from fashionnet.startup import import_torch, exit_now
    torch = import_torch()
    torch.set_num_threads(CPU_THREADS)
from fashionnet.device import select_device
from fashionnet.weights import load_model
device = select_device("cpu")
model, info = load_model(None, seed=0, device=device)
t2 = time.perf_counter()
from PIL import Image
from fashionnet import images
decode = prep = 0.0
decoded = []
for item in items:
    a = time.perf_counter()
    with images._open_regular(item.path, item.path) as source, Image.open(source, formats=images.FORMATS) as img:
        if img.format == "JPEG":
            img.draft("RGB", images.DRAFT_SIZE)  # (a checkout before issue 18 does it again in _decode)
        img.load()
        b = time.perf_counter()
        gray, colour = images._decode(img)
        view = images.view_of(gray, None, colour)
    decoded.append((item, view, None))
    decode += b - a
    prep += time.perf_counter() - b
import fashionnet.predict as p
forward = 0.0
classify = p.classify_scored
def timed(*args, **kwargs):
    global forward
    a = time.perf_counter()
    try:
        return classify(*args, **kwargs)
    finally:
        forward += time.perf_counter() - a
p.classify_scored = timed
t3 = time.perf_counter()
out = open(os.devnull, "w")
def batches():
    for s in range(0, len(decoded), BATCH_SIZE):
        yield from _flush(decoded[s:s + BATCH_SIZE], model, device, 3, CPU_THREADS, info.temperature, 0.6)
write_jsonl(batches(), out)
t4 = time.perf_counter()
print(json.dumps({"start": t1 - t0, "import": t2 - t1, "decode": decode, "preprocess": prep, "forward": forward,
                  "output": t4 - t3 - forward}))
sys.stdout.flush()
os.write(2, repr(time.time()).encode())
exit_now(0)
"""


def staged(args: list[str], tree: Path) -> dict:
    """One run of STAGED on the checkout `tree`; `exit` is the time from its last line to the process's end."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(tree)!r})\n" + STAGED, *args],
        capture_output=True,
        text=True,
        cwd=tree,
    )
    ended = time.time()
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-2000:])
    stages = json.loads(proc.stdout)
    stages["exit"] = ended - float(proc.stderr.strip().splitlines()[-1])
    stages["python"] = time.perf_counter() - start - sum(stages.values())  # the interpreter's own start
    stages["start"] += stages.pop("python")
    return stages


def best_stages(configs: dict, runs: int) -> dict:
    """For each (workload, tree) -> (paths, tree): each stage's fastest of `runs`, the configurations
    interleaved (noise on a shared machine only ever adds time)."""
    results: dict[object, list[dict]] = {key: [] for key in configs}
    for _ in range(runs):
        for key, (paths, tree) in configs.items():
            results[key].append(staged(paths, tree))
    return {key: {stage: min(r[stage] for r in rs) for stage in rs[0]} for key, rs in results.items()}


def walls(commands: dict, runs: int) -> dict:
    """Best-of-N wall seconds of each command and of `python -c "import torch"`, interleaved."""
    from benchmarks.run import IMPORT_TORCH, run

    times: dict[str, list[float]] = {name: [] for name in ["import torch", *commands]}
    for _ in range(runs):
        times["import torch"].append(run(IMPORT_TORCH)[0])
        for name, cmd in commands.items():
            times[name].append(run(cmd)[0])
    base = min(times["import torch"])
    return {name: (min(t), min(t) / base) for name, t in times.items()}


def cli_command(tree: Path) -> list[str]:
    from benchmarks.run import FASHIONNET

    if tree == ROOT:
        return [*FASHIONNET]
    return [
        sys.executable,
        "-c",
        f"import sys; sys.path.insert(0, {str(tree)!r}); sys.argv[0] = 'fashionnet'; "
        "from fashionnet.cli import main; main()",
    ]


def main() -> None:
    from benchmarks.predict_sets import export_test_pngs
    from fashionnet import photos

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per workload (best of)")
    parser.add_argument(
        "--before",
        type=Path,
        metavar="TREE",
        help="also measure this checkout (e.g. `git archive` of an older commit), interleaved",
    )
    args = parser.parse_args()
    trees = {"now": ROOT}
    if args.before:
        trees = {"before": args.before.resolve(), "now": ROOT}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        clean, _ = export_test_pngs(tmp / "clean")
        workloads = {"10,000 test PNGs": [str(clean)]}
        folder = photos.locate_photos()
        if folder is not None:
            labelled = photos.read_labels(folder)
            listing = tmp / "photos"
            listing.mkdir()
            for i, p in enumerate(labelled[:: max(1, len(labelled) // 100)][:100]):
                (listing / f"{i:03d}.jpg").symlink_to(folder / p.path)
            workloads["100 photos"] = [str(listing)]
        workloads["one PNG"] = [str(sorted(clean.iterdir())[0])]
        columns = best_stages(
            {(w, t): (paths, tree) for w, paths in workloads.items() for t, tree in trees.items()}, args.runs
        )
        wall = walls(
            {
                (w, t): [*cli_command(tree), "predict", *paths, "--json"]
                for w, paths in workloads.items()
                for t, tree in trees.items()
            },
            args.runs,
        )
    keys = list(columns)
    heads = [w if len(trees) == 1 else f"{w}, {t}" for w, t in keys]
    print("| stage (seconds of one core, each stage alone) | " + " | ".join(heads) + " |")
    print("|---|" + "---:|" * len(keys))
    for key, label in STAGES:
        print(f"| {label} | " + " | ".join(f"{columns[k][key]:.2f}" for k in keys) + " |")
    print("| sum of the stages | " + " | ".join(f"{sum(columns[k].values()):.2f}" for k in keys) + " |")
    print(
        f"| `predict --json` wall time, best of {args.runs} (x `import torch`) | "
        + " | ".join(f"{wall[k][0]:.2f} ({wall[k][1]:.2f}x)" for k in keys)
        + " |"
    )
    print(
        f'\n`python -c "import torch"`: {wall["import torch"][0]:.2f} s, best of {args.runs}, '
        "interleaved with the above."
    )


if __name__ == "__main__":
    main()
