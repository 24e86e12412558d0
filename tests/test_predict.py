"""predict.py and render/predict.py: inputs -> ordered predictions -> what people and scripts see."""

from __future__ import annotations

import csv
import gzip
import io
import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from rich.console import Console

from fashionnet import CLASSES, decoding as decoding_module, predict as predict_module
from fashionnet.decoding import MemoryBudget, start_decoding
from fashionnet.inputs import Input, collect_inputs
from fashionnet.predict import Prediction, classify, predict_paths
from fashionnet.render import predict as render, widgets
from fashionnet.weights import load_model

ROOT = Path(__file__).resolve().parents[1]
FASHION_TEST = Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def model():
    return load_model("random", 0, CPU)[0]


def garment(seed: int) -> np.ndarray:
    """A 28x28 light-on-black array (never inverted by auto-detection: its border is black)."""
    rng = np.random.default_rng(seed)
    a = np.zeros((28, 28), np.uint8)
    a[2:26, 8 + seed % 5 : 20] = rng.integers(80, 256, size=(24, 12 - seed % 5))
    return a


def write_pngs(folder: Path, arrays, names=None) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, a in enumerate(arrays):
        path = folder / (names[i] if names else f"{i:03d}.png")
        Image.fromarray(a).save(path)
        paths.append(str(path))
    return paths


def render_text(renderable) -> str:
    console = Console(width=80, color_system=None, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


# ------------------------------------------------------------------------------------------ collect_inputs


def test_collect_files_directories_and_globs_in_order(tmp_path):
    write_pngs(tmp_path / "d", [garment(0)] * 3, ["b.png", "a.JPG", "c.webp"])
    (tmp_path / "d" / "notes.txt").write_text("not an image")
    (tmp_path / "d" / ".hidden.png").write_bytes(b"")
    write_pngs(tmp_path / "d" / "sub", [garment(1)], ["z.png"])
    single = write_pngs(tmp_path, [garment(2)], ["one.bmp"])[0]
    d = str(tmp_path / "d")

    flat = collect_inputs([single, d])
    assert [i.path for i in flat] == [single, f"{d}/a.JPG", f"{d}/b.png", f"{d}/c.webp"]
    assert all(i.error is None for i in flat)

    deep = collect_inputs([d], recursive=True)
    assert [i.path for i in deep] == [f"{d}/a.JPG", f"{d}/b.png", f"{d}/c.webp", f"{d}/sub/z.png"]

    pattern = collect_inputs([f"{d}/*.png"])  # quoted: the shell did not expand it
    assert [i.path for i in pattern] == [f"{d}/b.png"]
    assert [i.path for i in collect_inputs([f"{d}/**/*.png"])] == [f"{d}/b.png", f"{d}/sub/z.png"]


def test_collect_problems_become_error_inputs(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "readme.md").write_text("hi")
    (tmp_path / "nested" / "inner").mkdir(parents=True)
    good = write_pngs(tmp_path, [garment(0)])[0]
    args = [
        str(tmp_path / "missing.png"),
        str(tmp_path / "empty"),
        good,
        str(tmp_path / "text"),
        str(tmp_path / "nested"),
        str(tmp_path / "*.gif"),
    ]
    items = collect_inputs(args)
    assert [i.path for i in items] == args
    errors = [i.error for i in items]
    assert errors[0] == "no such file or directory"
    assert errors[1] == "directory is empty"
    assert errors[2] is None
    assert errors[3].startswith("no images in directory (looked for png, jpg")
    assert errors[4] == "no images in directory (it has subdirectories: add --recursive)"
    assert errors[5] == "no files match this pattern"


def test_explicit_file_is_kept_whatever_its_name(tmp_path):
    path = tmp_path / "photo.data"
    Image.fromarray(garment(0)).save(path, format="PNG")
    assert collect_inputs([str(path)]) == [Input(str(path))]


class FakeStdin(io.BytesIO):
    def __init__(self, data=b"", tty=False):
        super().__init__(data)
        self.tty = tty

    def isatty(self):
        return self.tty


def test_stdin_is_read_once_and_only_for_dash(tmp_path):
    data = (Path(write_pngs(tmp_path, [garment(3)])[0])).read_bytes()
    stream = FakeStdin(data)
    items = collect_inputs(["-", "-"], stdin=stream)
    assert items[0] == Input("-", data=data)
    assert items[1].error == "stdin was already read (give '-' only once)"

    untouched = FakeStdin(data)
    collect_inputs([str(tmp_path)], stdin=untouched)
    assert untouched.tell() == 0  # no '-': stdin is never read


def test_stdin_terminal_is_an_error_not_a_hang():
    [item] = collect_inputs(["-"], stdin=FakeStdin(tty=True))
    assert item.error.startswith("stdin is a terminal")


# ------------------------------------------------------------------------------------------ prediction


def test_predictions_match_the_model_in_input_order_with_errors_in_place(tmp_path, model):
    arrays = [garment(i) for i in range(7)]
    paths = write_pngs(tmp_path, arrays)
    (tmp_path / "bad.png").write_text("nope")
    args = [paths[0], str(tmp_path / "missing.png"), *paths[1:4], str(tmp_path / "bad.png"), *paths[4:]]
    results = list(predict_paths(collect_inputs(args), model, CPU, top_k=3, batch_size=3))

    assert [r.path for r in results] == args
    assert [r.ok for r in results] == [True, False, True, True, True, False, True, True, True]
    assert results[1].error == "no such file or directory"
    assert "not an image" in results[5].error

    with torch.inference_mode():
        probs = model(torch.from_numpy(np.stack(arrays)).float() / 255).softmax(1)
    good = [r for r in results if r.ok]
    for r, p, a in zip(good, probs, arrays, strict=True):
        expected = p.topk(3)
        assert [i for _, i, _ in r.top] == expected.indices.tolist()
        assert [q for _, _, q in r.top] == pytest.approx(expected.values.tolist(), abs=1e-6)
        assert (r.label, r.index, r.probability) == r.top[0]
        assert r.label == CLASSES[r.index]
        np.testing.assert_array_equal(r.image, a)


def test_batch_size_does_not_change_results(tmp_path, model):
    paths = write_pngs(tmp_path, [garment(i) for i in range(5)])
    one = list(predict_paths(paths, model, CPU, batch_size=1))
    many = list(predict_paths(paths, model, CPU, batch_size=512))
    assert len(one) == len(many) == 5
    for a, b in zip(one, many, strict=True):  # the matmul's blocking depends on the batch size: equal to float noise
        assert (a.path, [i for _, i, _ in a.top]) == (b.path, [i for _, i, _ in b.top])
        assert [p for *_, p in a.top] == pytest.approx([p for *_, p in b.top], abs=1e-6)


@pytest.mark.parametrize("k, expected", [(1, 1), (3, 3), (10, 10), (50, 10), (0, 1)])
def test_top_k_is_sorted_and_clamped(model, k, expected):
    probs, indices = classify(np.stack([garment(0), garment(1)]), model, CPU, top_k=k)
    assert probs.shape == indices.shape == (2, expected)
    assert (np.diff(probs, axis=1) <= 0).all()
    if expected == 10:
        np.testing.assert_allclose(probs.sum(1), 1, atol=1e-5)
        assert sorted(indices[0]) == list(range(10))


def _to_tensor(arrays) -> torch.Tensor:
    # What `evaluate` feeds the model: torchvision's ToTensor on the same images. (N, 1, 28, 28)
    from torchvision.transforms import ToTensor

    return torch.stack([ToTensor()(Image.fromarray(a)) for a in arrays])


def _assert_same_as_evaluate(model, results, arrays):
    """The model input is bit-identical to evaluate's; outputs then agree up to float summation order
    (torch's thread count and batch size may change the last bits of a matmul)."""
    ours = torch.from_numpy(np.stack([r.image for r in results])).float() / 255
    assert torch.equal(ours.unsqueeze(1), _to_tensor(arrays))
    with torch.inference_mode():
        expected = model(_to_tensor(arrays)).softmax(1).topk(len(results[0].top))
    assert [[i for _, i, _ in r.top] for r in results] == expected.indices.tolist()
    got = torch.tensor([[p for *_, p in r.top] for r in results])
    torch.testing.assert_close(got, expected.values, rtol=0, atol=1e-6)


def test_predict_on_png_equals_evaluate_on_the_tensor(tmp_path, model):
    arrays = [garment(i) for i in range(6)]
    results = list(predict_paths(write_pngs(tmp_path, arrays), model, CPU, top_k=10))
    _assert_same_as_evaluate(model, results, arrays)


@pytest.mark.realdata
@pytest.mark.skipif(not FASHION_TEST.exists(), reason="FashionMNIST test set not installed")
def test_predict_on_real_test_pngs_equals_evaluate(tmp_path, model):
    with gzip.open(FASHION_TEST) as f:
        raw = f.read(16 + 100 * 784)
    arrays = list(np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 28, 28))  # IDX: 16-byte header
    results = list(predict_paths(write_pngs(tmp_path, arrays), model, CPU, top_k=3))
    _assert_same_as_evaluate(model, results, arrays)


def test_stdin_input_is_predicted_as_dash(tmp_path, model):
    data = Path(write_pngs(tmp_path, [garment(2)])[0]).read_bytes()
    [result] = predict_paths([Input("-", data=data)], model, CPU)
    assert result.path == "-" and result.ok


def test_worker_pool_gives_the_same_results_as_inline(tmp_path, model, monkeypatch):
    paths = write_pngs(tmp_path, [garment(i % 7) for i in range(40)])
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    items = collect_inputs([*paths[:20], str(tmp_path / "broken.png"), str(tmp_path / "gone.png"), *paths[20:]])
    inline = list(predict_paths(items, model, CPU, workers=1))
    monkeypatch.setattr(decoding_module, "PARALLEL_MIN_FILES", 1)
    decoding = start_decoding(items, workers=2)
    assert decoding._pool is not None  # the pool really ran
    pooled = list(predict_module.predict_decoded(decoding, model, CPU))
    assert decoding._pool is None  # and was stopped once iteration finished
    assert [(r.path, r.top, r.error) for r in pooled] == [(r.path, r.top, r.error) for r in inline]
    assert [r.ok for r in pooled].count(False) == 2


def test_few_small_files_are_decoded_without_a_pool(tmp_path):
    with start_decoding([Input(p) for p in write_pngs(tmp_path, [garment(0)] * 3)], workers=2) as decoding:
        assert decoding._pool is None


def test_a_few_photos_are_decoded_by_the_pool_with_the_same_answers(model):
    # Photos are slow to decode (GrabCut), so even the six shipped ones go to worker processes, and the
    # masks and answers that come back are the ones this process makes.
    items = collect_inputs([str(ROOT / "fashionnet" / "samples" / "photos")])
    assert len(items) == 6
    inline = list(predict_paths(items, model, CPU, workers=1))
    decoding = start_decoding(items, workers=2)
    assert decoding._pool is not None
    pooled = list(predict_module.predict_decoded(decoding, model, CPU))
    assert [(r.path, r.top, r.sure) for r in pooled] == [(r.path, r.top, r.sure) for r in inline]
    assert all(np.array_equal(a.mask, b.mask) for a, b in zip(pooled, inline, strict=True))


def test_this_process_decodes_the_chunks_no_worker_has_started(tmp_path, monkeypatch):
    # One worker (workers=2 counts this process): while it decodes from the front, this process takes
    # chunks from the back, and the answers still come in input order.
    monkeypatch.setattr(decoding_module, "PARALLEL_MIN_FILES", 1)
    paths = write_pngs(tmp_path, [garment(i % 7) for i in range(64)])
    with start_decoding([Input(p) for p in paths], workers=2) as decoding:
        assert len(decoding._jobs) > 2 and decoding._pool is not None
        images = [view.image for _, view, _ in decoding]
    assert decoding.decoded_here >= 1  # (here torch is loaded, so the worker is a fresh interpreter: slow to start)
    np.testing.assert_array_equal(np.stack(images), np.stack([garment(i % 7) for i in range(64)]))


def test_memory_budget_makes_big_decodes_take_turns():
    budget = MemoryBudget(100 << 20)
    first_in, release = threading.Event(), threading.Event()
    entered_after_release = []

    def first():
        with budget.reserve(60 << 20):
            first_in.set()
            release.wait(10)

    def second():
        first_in.wait(10)
        with budget.reserve(60 << 20):  # 60 + 60 MB > 100 MB: waits for the first
            entered_after_release.append(release.is_set())

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    first_in.wait(10)
    threads[1].join(0.5)
    assert threads[1].is_alive() and budget.used == 60 << 20
    release.set()
    for t in threads:
        t.join(10)
    assert entered_after_release == [True] and budget.used == 0


def test_memory_budget_never_blocks_a_lone_image_small_ones_or_on_dead_holders():
    budget = MemoryBudget(100 << 20)
    with budget.reserve(500 << 20):  # alone: runs, though over the total (load_view refused real bombs)
        with budget.reserve(decoding_module.SMALL_DECODE - 1):  # small decodes are not counted
            assert budget.used == 500 << 20
        budget.holders_gone = lambda: True  # the workers holding it died: their memory is free
        with budget.reserve(60 << 20):
            assert budget.used == 560 << 20
    assert budget.used == 0


# A decoder killed while it waits in reserve() (the pool kills the others when one is OOM-killed), and one
# killed while it holds the budget's lock: this process's release and reserve must still return at once.
KILLED_DECODERS = r"""
import multiprocessing, time
from fashionnet.decoding import MemoryBudget
context = multiprocessing.get_context("fork")
budget = MemoryBudget(100 << 20, context)

def wait_for_room():
    with budget.reserve(60 << 20):
        pass

def hold_the_lock():
    budget._lock.acquire()
    time.sleep(60)

for victim in (wait_for_room, hold_the_lock):
    start = time.monotonic()
    with budget.reserve(60 << 20):
        child = context.Process(target=victim)
        child.start()
        time.sleep(0.5)  # the child now waits for room, or holds the lock
        assert child.is_alive()
        child.kill()
        child.join()
        budget.holders_gone = lambda: not child.is_alive()  # as Decoding's check of its pool
    with budget.reserve(60 << 20):
        assert budget.used == 60 << 20
    assert budget.used == 0 and time.monotonic() - start < 5, time.monotonic() - start
    budget.holders_gone = None
print("ok")
"""


@pytest.mark.skipif(sys.platform != "linux", reason="forks decoder-like processes")
def test_memory_budget_outlives_decoders_killed_while_waiting_or_holding_its_lock():
    # Python 3.11's pool terminates every worker when one dies; with a multiprocessing Condition, a waiter
    # killed in wait() made the next notify_all() block forever. A timeout turns a regression into a failure.
    out = subprocess.run([sys.executable, "-c", KILLED_DECODERS], capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert (out.returncode, out.stdout) == (0, "ok\n"), out.stderr


def _decode_in_subprocess(paths: list[str], prelude: str = "") -> np.ndarray:
    # The CLI's order: start decoding (fork) with torch not yet imported.
    code = (
        "import json, os, sys\n"
        "from fashionnet import decoding as p\n"
        "p.PARALLEL_MIN_FILES = 1\n"
        f"{prelude}\n"
        f"d = p.start_decoding([p.Input(x) for x in {paths!r}], workers=2)\n"
        "assert d._pool is not None and 'torch' not in sys.modules\n"
        "print(json.dumps([view.image.tolist() for _, view, _ in d]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    return np.array(json.loads(out.stdout))


def test_forked_decoders_before_torch_import(tmp_path):
    paths = write_pngs(tmp_path, [garment(i) for i in range(5)])
    np.testing.assert_array_equal(_decode_in_subprocess(paths), np.stack([garment(i) for i in range(5)]))


def test_a_dying_decoder_process_neither_hangs_nor_loses_inputs(tmp_path):
    paths = write_pngs(tmp_path, [garment(i) for i in range(6)], [f"{i}{'crash' * (i == 3)}.png" for i in range(6)])
    crash = (
        "real = p._decode_chunk\n"
        "def dying(job):\n"
        "    if any('crash' in x for x in job[1]): os._exit(9)  # as if OOM-killed\n"
        "    return real(job)\n"
        "p._decode_chunk = dying"
    )
    np.testing.assert_array_equal(_decode_in_subprocess(paths, crash), np.stack([garment(i) for i in range(6)]))


def test_a_pool_whose_start_fails_is_stopped_not_left_running(tmp_path):
    # Decoding's constructor raised after starting its pool: no caller has the pool to close, yet its
    # workers must die and its manager thread end (exit_now joins non-daemon threads; the CLI would hang).
    paths = write_pngs(tmp_path, [garment(i) for i in range(6)])
    code = (
        "import os, sys, threading, time\n"
        "from fashionnet import decoding as p\n"
        "p.PARALLEL_MIN_FILES = 1\n"
        "def busy(job):\n"
        "    time.sleep(60)\n"
        "p._decode_chunk = busy  # what the forked workers run\n"
        "class Failing(p.ProcessPoolExecutor):\n"
        "    def submit(self, *args, **kwargs):\n"
        "        if self._queue_count == 2:\n"
        "            raise OSError('fork failed')\n"
        "        return super().submit(*args, **kwargs)\n"
        "p.ProcessPoolExecutor = Failing\n"
        "try:\n"
        f"    p.start_decoding([p.Input(x) for x in {paths!r}], workers=3)\n"
        "except OSError:\n"
        "    pass\n"
        "for thread in threading.enumerate():\n"
        "    if thread is not threading.main_thread() and not thread.daemon:\n"
        "        thread.join(10)\n"
        "        if thread.is_alive():  # left running: say so, and leave without waiting for it\n"
        "            print('left running:', thread, flush=True)\n"
        "            os._exit(1)\n"
        "import multiprocessing\n"
        "print('ok' if not multiprocessing.active_children() else 'workers left')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert (out.returncode, out.stdout) == (0, "ok\n"), out.stderr


# ------------------------------------------------------------------------------------------ rendering


def _result(path="shirt.png", top=((6, 0.625), (0, 0.25), (2, 0.125))) -> Prediction:
    t = [(CLASSES[i], i, p) for i, p in top]
    return Prediction(path, t[0][0], t[0][1], t[0][2], t, garment(0), sure=True, score=t[0][2], found=True)


def test_single_prediction_shows_label_probability_and_bars():
    text = render_text(render.predictions_view([_result()]))
    lines = text.splitlines()
    assert lines[0] == "shirt.png: Shirt 62.5%"
    assert lines[1].startswith("Shirt ") and "█" * 15 in lines[1] and lines[1].endswith("62.5%")
    assert lines[2].startswith("T-shirt/top ") and "█" * 6 in lines[2] and "█" * 7 not in lines[2]
    assert lines[3].startswith("Pullover ") and lines[3].endswith("12.5%")
    assert all(len(line) <= 80 for line in lines)


def test_bar_lengths():
    assert widgets.bar(1.0, 8) == "█" * 8
    assert widgets.bar(0.0, 8) == " " * 8
    assert widgets.bar(0.5, 8) == "████    "
    assert widgets.bar(0.5, 1) == "▌"
    assert widgets.bar(0.94, 2) == "█▉"  # 15 of 16 eighths


def test_show_puts_the_picture_beside_the_chart():
    lines = render_text(render.predictions_view([_result()], show=True)).splitlines()
    assert len(lines) == 15 and lines[-1].startswith("model input 28x28")  # 28 pixel rows, two per line; caption
    assert "shirt.png: Shirt 62.5%" in lines[0]
    assert all(len(line) <= 80 for line in lines)
    assert any(c in "".join(lines) for c in "@%#*")  # the garment's pixels are drawn


def test_not_sure_is_said_in_the_view_and_the_table():
    unsure = _result("hat.jpg", top=((0, 0.3), (6, 0.2), (2, 0.1)))
    unsure.sure = False
    assert (
        render_text(render.predictions_view([unsure])).splitlines()[0]
        == "hat.jpg: not sure — looks most like T-shirt/top 30.0%"
    )
    text = render_text(render.predictions_table([unsure, _result()]))
    rows = [line for line in text.splitlines() if line.startswith("hat")]
    assert rows[0].split()[:3] == ["hat.jpg", "T-shirt/top?", "30.0%"]
    assert render.NOT_SURE_NOTE in text, "the table says what the mark means"
    assert "?" not in render_text(render.predictions_table([_result()] * 2)), "and only when it is used"
    console = Console(width=40, color_system=None, record=True, file=io.StringIO())
    console.print(render.predictions_table([unsure, _result()]))  # stacked rows say it in words
    assert "not sure (T-shirt/top?) 30.0%" in console.export_text()


def test_many_images_become_a_compact_table():
    results = [_result(f"img{i}.png") for i in range(5)] + [Prediction("bad.png", error="not an image")]
    text = render_text(render.predictions_view(results))
    assert "bad.png" not in text  # errors go to stderr via error_line
    rows = [line for line in text.splitlines() if line.startswith("img")]
    assert len(rows) == 5
    assert rows[0].split() == ["img0.png", "Shirt", "62.5%", "T-shirt/top", "25.0%"]


def test_long_paths_fold_within_80_columns():
    results = [_result("/very/" + "long/" * 30 + f"img{i}.png") for i in range(5)]
    assert all(len(line) <= 80 for line in render_text(render.predictions_table(results)).splitlines())


def test_user_text_is_never_markup_and_stays_one_line():
    weird = "[bold red]evil[/bold red]\nsecond.png"
    text = render_text(render.predictions_view([_result(weird)]))
    assert "[bold red]evil[/bold red]\\x0asecond.png: Shirt 62.5%" in text
    line = render_text(render.error_line(Prediction(weird, error="not an image")))
    assert line == "[bold red]evil[/bold red]\\x0asecond.png: not an image\n"


def test_json_lines_and_csv_rows():
    results = [_result("a.png"), Prediction("b.png", error="file is empty (0 bytes)")]
    out = io.StringIO()
    render.write_jsonl(results, out)
    first, second = [json.loads(line) for line in out.getvalue().splitlines()]
    assert first == {
        "path": "a.png",
        "label": "Shirt",
        "index": 6,
        "probability": 0.625,
        "top": [
            {"label": "Shirt", "index": 6, "probability": 0.625},
            {"label": "T-shirt/top", "index": 0, "probability": 0.25},
            {"label": "Pullover", "index": 2, "probability": 0.125},
        ],
        "sure": True,
        "score": 0.625,
        "found": True,
    }
    assert second == {"path": "b.png", "error": "file is empty (0 bytes)"}

    out = io.StringIO()
    render.write_csv(results, out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert list(rows[0]) == list(render.CSV_COLUMNS)
    assert rows[0] == {
        "path": "a.png",
        "label": "Shirt",
        "index": "6",
        "probability": "0.625",
        "top": "Shirt:0.625;T-shirt/top:0.25;Pullover:0.125",
        "error": "",
        "sure": "true",
        "score": "0.625",
        "found": "true",
        "path_bytes": "",
    }
    assert rows[1] == {
        "path": "b.png",
        "label": "",
        "index": "",
        "probability": "",
        "top": "",
        "error": "file is empty (0 bytes)",
        "sure": "",
        "score": "",
        "found": "",
        "path_bytes": "",
    }


def test_cpu_threads_cap_is_undone_after_each_batch(model):
    saved = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        classify(np.stack([garment(0)]), model, CPU, cpu_threads=1)
        assert torch.get_num_threads() == 2  # the CLI's other work keeps torch's own setting
    finally:
        torch.set_num_threads(saved)


def test_recursive_walk_is_sorted_and_skips_hidden_folders(tmp_path):
    for sub in ("m", "b", "z", "a", ".git"):
        write_pngs(tmp_path / sub, [garment(0)], ["x.png"])
    paths = [i.path for i in collect_inputs([str(tmp_path)], recursive=True)]
    assert paths == [str(tmp_path / sub / "x.png") for sub in ("a", "b", "m", "z")]
