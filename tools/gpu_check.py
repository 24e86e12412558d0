"""`make gpu-check`: run train, evaluate, predict and export on a GPU and on the CPU, and compare.

Every step runs the installed `fashionnet` command, as a user would, once with --device cuda (or the
device given) and once with --device cpu:

    train     2 epochs, seed 0 (shipped teacher answers)  test accuracy within 0.5 points
    evaluate  the shipped weights            accuracy within 0.05 points
    predict   the 10 sample images           the same top-1 class for every image
    export    onnx, torchscript, safetensors the export's own check passes on both (1e-4)

Prints a table and exits 1 on any mismatch. On a machine without that device it says so and exits 0,
so `make gpu-check` is safe everywhere.

    python tools/gpu_check.py [--device cuda:1] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "fashionnet" / "samples"
BIN = Path(sys.executable).parent
FASHIONNET = [str(BIN / "fashionnet")] if (BIN / "fashionnet").exists() else [sys.executable, "-m", "fashionnet"]
EPOCHS = 2
TRAIN_POINTS = 0.5  # allowed difference in test accuracy after training, in percentage points
EVALUATE_POINTS = 0.05  # allowed difference when evaluating the same (shipped) weights
NO_DEVICE = 0  # exit status when there is no GPU to check: nothing is wrong


class StepFailed(Exception):
    """A fashionnet command failed; the message is its last line on stderr."""


@dataclass
class Row:
    check: str
    reference: str  # the CPU's figure
    device: str  # the GPU's figure
    allowed: str
    ok: bool


def run_json(args: list[str], lines: bool = False):
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("FASHIONNET_DEVICE", None)
    proc = subprocess.run([*FASHIONNET, *args], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
        raise StepFailed(f"fashionnet {args[0]} exited {proc.returncode}: {last}")
    return [json.loads(line) for line in proc.stdout.splitlines()] if lines else json.loads(proc.stdout)


def export_formats() -> list[str]:
    has_onnx = all(importlib.util.find_spec(m) for m in ("onnx", "onnxruntime"))
    return (["onnx"] if has_onnx else []) + ["torchscript", "safetensors"]


def measure(device: str, workdir: Path, data_dir: str | None) -> dict:
    """Every figure the comparison needs, for one device; a failed step is recorded as its error."""
    data = ["--data-dir", data_dir] if data_dir else []
    tag = device.replace(":", "-")
    steps = {
        "train": lambda: run_json(
            [
                "train",
                "--epochs",
                str(EPOCHS),
                "--seed",
                "0",
                "--device",
                device,
                "--quiet",
                "--json",
                "--force",
                "--out",
                str(workdir / f"train-{tag}.safetensors"),
                *data,
            ]
        ),
        "evaluate": lambda: run_json(["evaluate", "--device", device, "--json", *data]),
        "predict": lambda: run_json(["predict", str(SAMPLES), "--device", device, "--json"], lines=True),
    }
    for fmt in export_formats():
        out = workdir / f"export-{tag}.{fmt}"
        steps[f"export {fmt}"] = functools.partial(
            run_json, ["export", "--format", fmt, "--device", device, "--json", "--force", "--out", str(out)]
        )
    results = {}
    for name, step in steps.items():
        print(f"  {device:>8}: {name} ...", file=sys.stderr, flush=True)
        try:
            results[name] = step()
        except StepFailed as exc:
            results[name] = {"error": str(exc)}
    return results


def _points(result: dict, key: str) -> float:
    return 100 * float(result[key])


def _problem(cpu: dict, gpu: dict, name: str) -> str | None:
    """Why a step cannot be compared (it failed or did not run on one side), or None."""
    for side, result in (("cpu", cpu), ("gpu", gpu)):
        step = result.get(name)
        if step is None:
            return f"{side}: not run"
        if isinstance(step, dict) and "error" in step:
            return f"{side}: {step['error']}"
    return None


def compare(cpu: dict, gpu: dict) -> list[Row]:
    """One row per check; a step that failed on either side fails its row."""
    rows = []

    for name, key, allowed in (("train", "test_accuracy", TRAIN_POINTS), ("evaluate", "accuracy", EVALUATE_POINTS)):
        label = f"train {EPOCHS} epochs: test accuracy" if name == "train" else "evaluate shipped weights"
        problem = _problem(cpu, gpu, name)
        if problem:
            rows.append(Row(label, "-", problem, f"±{allowed} points", False))
            continue
        a, b = _points(cpu[name], key), _points(gpu[name], key)
        rows.append(Row(label, f"{a:.2f}%", f"{b:.2f}%", f"±{allowed} points", abs(a - b) <= allowed))

    problem = _problem(cpu, gpu, "predict")
    if problem:
        rows.append(Row("predict samples: top-1", "-", problem, "identical", False))
    else:
        on_cpu = [r.get("label") for r in cpu["predict"]]
        on_gpu = [r.get("label") for r in gpu["predict"]]
        # Not strict: a run that classified fewer samples is a mismatch the row below reports, not a crash.
        same = sum(x == y and x is not None for x, y in zip(on_cpu, on_gpu, strict=False))
        rows.append(
            Row(
                "predict samples: same top-1",
                f"{len(on_cpu)} images",
                f"{same}/{len(on_gpu)} same",
                "identical",
                same == len(on_cpu) == len(on_gpu),
            )
        )

    for name in sorted(k for k in set(cpu) | set(gpu) if k.startswith("export ")):
        problem = _problem(cpu, gpu, name)
        if problem:
            rows.append(Row(f"{name}: max |logit diff|", "-", problem, "check passes", False))
            continue
        a, b = cpu[name], gpu[name]
        ok = bool(a.get("passed") and b.get("passed") and b["max_abs_diff"] <= b["tolerance"])
        rows.append(
            Row(
                f"{name}: max |logit diff|",
                f"{a['max_abs_diff']:.1e}",
                f"{b['max_abs_diff']:.1e}",
                f"<= {b['tolerance']:g}",
                ok,
            )
        )
    return rows


def table(rows: list[Row], device: str) -> str:
    headers = ("check", "cpu", device, "allowed", "result")
    cells = [headers] + [(r.check, r.reference, r.device, r.allowed, "ok" if r.ok else "MISMATCH") for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def device_available(device: str) -> tuple[bool, str]:
    """(available, description) without failing when torch has no such backend."""
    import torch

    kind = device.split(":")[0]
    backend = getattr(torch, kind, None)
    if kind == "cpu":
        return True, "cpu (a dry run: the CPU against itself)"
    if backend is None or not backend.is_available():
        return False, ""
    suffix = device.split(":", 1)[1] if ":" in device else "0"
    if not suffix.isdigit():
        return False, ""
    index = int(suffix)
    if index >= backend.device_count():
        return False, ""
    name = torch.cuda.get_device_name(index) if kind == "cuda" else kind
    version = f", CUDA {torch.version.cuda}" if kind == "cuda" else ""
    return True, f"{name} ({device}), torch {torch.__version__}{version}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="the GPU to check against the CPU (default cuda)")
    parser.add_argument("--data-dir", help="folder with the FashionMNIST files (default: where fashionnet finds them)")
    args = parser.parse_args(argv)
    available, description = device_available(args.device)
    if not available:
        print(
            f"No GPU here: {args.device} is not available on this machine, so there is nothing to compare. "
            "Run `make gpu-check` on a machine with an NVIDIA GPU and a CUDA build of torch."
        )
        return NO_DEVICE
    print(f"Checking {description} against the CPU", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="fashionnet-gpu-check-") as tmp:
        gpu = measure(args.device, Path(tmp), args.data_dir)
        cpu = measure("cpu", Path(tmp), args.data_dir)
    rows = compare(cpu, gpu)
    print(f"GPU check: {description}")
    print(table(rows, args.device))
    bad = [r for r in rows if not r.ok]
    print(f"\n{len(rows) - len(bad)} of {len(rows)} checks agree" + (f"; {len(bad)} MISMATCH" if bad else "."))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
