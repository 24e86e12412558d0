import json
from pathlib import Path

import pytest
import torch

from fashionnet import data
from fashionnet.errors import TrainingInterrupted, UsageError
from fashionnet.recipe import Recipe
from fashionnet.resume import load_resume
from fashionnet.train import augment, fit, folded_state, resolve_output, standardize
from fashionnet.weights import SHIPPED_WEIGHTS, load_model, read_checkpoint
from tests.conftest import needs_real_data

CPU = torch.device("cpu")
# fit() without photos or the teacher's answers records 0 for both
SMALL = Recipe(epochs=2, batch_size=64, lr=3e-3, clean_epochs=1, photo_share=0.0, teacher_epochs=0, photo_distill=0.0)


@pytest.fixture
def splits(fake_data):
    return data.load_split("train", fake_data), data.load_split("test", fake_data)


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_same_seed_gives_bit_identical_weights(splits):
    train, test = splits
    a = _weights(fit(SMALL, train, test, CPU, seed=1).model)
    b = _weights(fit(SMALL, train, test, CPU, seed=1).model)
    c = _weights(fit(SMALL, train, test, CPU, seed=2).model)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_learns_the_easy_fake_data(splits):
    train, test = splits
    result = fit(Recipe(epochs=6, batch_size=32, lr=3e-3, clean_epochs=2), train, test, CPU, seed=0)
    assert result.final.test_accuracy > 0.9, result.final
    assert [h.epoch for h in result.history] == [1, 2, 3, 4, 5, 6]


class StopAtSecondEpoch:
    """Training callbacks that press Ctrl-C as the second epoch starts."""

    def epoch_start(self, epoch, epochs, batches):
        if epoch == 2:
            raise KeyboardInterrupt

    def batch_end(self, *args):
        pass

    def epoch_end(self, stats):
        pass


def test_checkpoint_every_epoch_and_resume_is_exact(splits, tmp_path):
    train, test = splits
    straight = fit(SMALL, train, test, CPU, seed=3, out=tmp_path / "straight.safetensors")

    out = tmp_path / "run.safetensors"
    with pytest.raises(TrainingInterrupted) as info:
        fit(SMALL, train, test, CPU, seed=3, out=out, callbacks=StopAtSecondEpoch())
    assert "epoch 1 is saved in" in str(info.value) and "--resume" in str(info.value)
    assert read_checkpoint(out).metadata["epochs"] == 1
    resumed = fit(SMALL, train, test, CPU, seed=3, out=out, resume=load_resume(out))
    a, b = _weights(straight.model), _weights(resumed.model)
    assert all(torch.equal(a[k], b[k]) for k in a), "resume must continue exactly where training stopped"
    saved = read_checkpoint(out)
    assert saved.metadata["epochs"] == 2 and len(saved.metadata["history"]) == 2
    assert saved.metadata["recipe"] == SMALL.to_dict() and saved.metadata["seed"] == 3


def test_checkpoint_metadata_and_no_optimizer_state(splits, tmp_path):
    train, test = splits
    out = tmp_path / "m.safetensors"
    fit(Recipe(epochs=1, batch_size=64), train, test, CPU, seed=0, out=out, save_optimizer=False)
    ckpt = read_checkpoint(out)
    assert ckpt.training == {}
    meta = ckpt.metadata
    assert meta["classes"][0] == "T-shirt/top" and meta["normalization"]["std"] == 1.0
    assert 0 <= meta["test_accuracy"] <= 1 and meta["torch_version"] == torch.__version__
    model, info = load_model(out, seed=0, device=CPU)
    assert info.test_accuracy == meta["test_accuracy"]
    with pytest.raises(Exception, match="no optimizer state"):
        fit(Recipe(epochs=2, batch_size=64), train, test, CPU, out=tmp_path / "x.safetensors", resume=load_resume(out))


def test_augment_flips_about_half_the_batch():
    batch = torch.arange(64 * 28 * 28, dtype=torch.int64).reshape(64, 28, 28).remainder(251).to(torch.uint8)
    out = augment(batch, torch.Generator().manual_seed(0))
    assert out.shape == batch.shape and out.dtype == torch.uint8
    flipped = [torch.equal(out[i], batch[i].flip(-1)) for i in range(64)]
    kept = [torch.equal(out[i], batch[i]) for i in range(64)]
    assert all(f or k for f, k in zip(flipped, kept, strict=True))
    assert 16 <= sum(flipped) <= 48


def test_folding_the_standardisation_is_exact_enough():
    from fashionnet.model import build_model, pixels_to_input

    recipe = Recipe()
    trained_on_standardised = build_model(seed=1)
    pixels = torch.randint(0, 256, (16, 28, 28), dtype=torch.uint8)
    expected = trained_on_standardised(standardize(pixels, recipe))
    folded = build_model(seed=2)
    folded.load_state_dict(folded_state(trained_on_standardised, recipe))
    assert torch.allclose(folded(pixels_to_input(pixels)), expected, atol=1e-5)


def test_output_is_never_silently_overwritten(tmp_path, monkeypatch):
    existing = tmp_path / "m.safetensors"
    existing.write_bytes(b"x")
    with pytest.raises(UsageError, match="refusing to overwrite"):
        resolve_output(existing, None, force=False)
    assert resolve_output(existing, None, force=True) == existing
    assert resolve_output(existing, existing, force=False) == existing  # resuming in place
    dangling = tmp_path / "link.safetensors"
    dangling.symlink_to(tmp_path / "gone.safetensors")
    with pytest.raises(UsageError, match="refusing to overwrite"):
        resolve_output(dangling, None, force=False)  # writing would create the link's target
    with pytest.raises(UsageError, match="is a directory"):
        resolve_output(tmp_path, None, force=False)
    with pytest.raises(UsageError, match="the shipped weights"):
        resolve_output(SHIPPED_WEIGHTS, None, force=False)


def test_train_command_on_generated_data(invoke, fake_data, tmp_path):
    out = tmp_path / "cli.safetensors"
    result = invoke(
        "train",
        "--data-dir",
        str(fake_data),
        "--epochs",
        "2",
        "--batch-size",
        "50",
        "--out",
        str(out),
        "--json",
        "--device",
        "cpu",
    )
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["epochs"] == 2 and len(summary["history"]) == 2 and summary["out"] == str(out)
    assert 0 <= summary["test_accuracy"] <= 1
    again = invoke("train", "--data-dir", str(fake_data), "--epochs", "1", "--out", str(out))
    assert again.exit_code == 2 and "refusing to overwrite" in again.stderr
    evaluated = json.loads(invoke("evaluate", "--data-dir", str(fake_data), "--weights", str(out), "--json").stdout)
    assert evaluated["accuracy"] == pytest.approx(summary["test_accuracy"])


def test_train_command_shows_progress_and_table(invoke, fake_data, tmp_path):
    result = invoke("train", "--data-dir", str(fake_data), "--epochs", "2", "--out", str(tmp_path / "m.safetensors"))
    assert result.exit_code == 0
    assert "epoch   1" in result.stderr and "Using cpu device" in result.stderr
    assert "Test acc" in result.stdout and "Saved" in result.stdout


def test_evaluate_json_and_table(invoke, fake_data):
    result = invoke("evaluate", "--data-dir", str(fake_data), "--weights", "random", "--json")
    report = json.loads(result.stdout)
    assert 0 <= report["accuracy"] <= 1 and report["samples"] == 10_000
    assert len(report["confusion"]) == 10 and sum(map(sum, report["confusion"])) == 10_000
    assert [c["support"] for c in report["per_class"]] == [1000] * 10
    table = invoke("evaluate", "--data-dir", str(fake_data), "--weights", "random")
    assert "Confusion matrix" in table.stdout and "Ankle boot" in table.stdout
    assert max(len(line) for line in table.stdout.splitlines()) <= 80


def test_plots_are_written(invoke, fake_data, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "confusion.png"
    assert invoke("evaluate", "--data-dir", str(fake_data), "--weights", "random", "--plot", str(png)).exit_code == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    curves = tmp_path / "curves.png"
    result = invoke(
        "train",
        "--data-dir",
        str(fake_data),
        "--epochs",
        "1",
        "--out",
        str(tmp_path / "m.safetensors"),
        "--plot",
        str(curves),
        "--quiet",
    )
    assert result.exit_code == 0 and curves.stat().st_size > 1000
    bad = invoke("evaluate", "--data-dir", str(fake_data), "--weights", "random", "--plot", str(tmp_path / "x.jpg"))
    assert bad.exit_code == 2 and "PNG" in bad.stderr


@needs_real_data
def test_same_seed_same_weights_on_a_real_slice(tmp_path):
    train, test = data.load_split("train", limit=2048), data.load_split("test", limit=512)
    recipe = Recipe(epochs=2, clean_epochs=1)
    a = _weights(fit(recipe, train, test, CPU, seed=7).model)
    b = _weights(fit(recipe, train, test, CPU, seed=7).model)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_help_shows_the_real_recipe_defaults():
    from fashionnet.cli import RECIPE_DEFAULTS

    assert {k: Recipe().to_dict()[k] for k in RECIPE_DEFAULTS} == RECIPE_DEFAULTS


def test_unwritable_out_fails_before_training(invoke, fake_data, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    result = invoke("train", "--data-dir", str(fake_data), "--out", str(blocker / "m.safetensors"))
    assert result.exit_code == 2
    assert "cannot write there" in result.stderr and "epoch" not in result.stderr
    assert result.stderr.strip().count("\n") == 0


def test_resume_refuses_what_would_not_continue_the_same_run(invoke, fake_data, tmp_path):
    out = tmp_path / "m.safetensors"
    assert invoke("train", "--data-dir", str(fake_data), "--epochs", "2", "--out", str(out), "--quiet").exit_code == 0
    fewer = invoke("train", "--data-dir", str(fake_data), "--resume", str(out), "--epochs", "2")
    assert fewer.exit_code == 2 and "already trained for 2 epochs" in fewer.stderr
    other_data = invoke("train", "--data-dir", str(fake_data), "--resume", str(out), "--epochs", "3", "--limit", "100")
    assert other_data.exit_code == 2 and "same --limit" in other_data.stderr
    other_batch = invoke(
        "train", "--data-dir", str(fake_data), "--resume", str(out), "--epochs", "3", "--batch-size", "7"
    )
    assert other_batch.exit_code == 2 and "keeps it" in other_batch.stderr
    other_seed = invoke("train", "--data-dir", str(fake_data), "--resume", str(out), "--epochs", "3", "--seed", "5")
    assert other_seed.exit_code == 2 and "was trained with --seed 0" in other_seed.stderr
    more = invoke("train", "--data-dir", str(fake_data), "--resume", str(out), "--epochs", "3", "--json")
    assert more.exit_code == 0 and json.loads(more.stdout)["epochs"] == 3
    assert read_checkpoint(out).metadata["epochs"] == 3


def test_resume_of_weights_without_training_state(invoke, fake_data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke(
        "train", "--data-dir", str(fake_data), "--resume", str(SHIPPED_WEIGHTS), "--out", "never-written.safetensors"
    )
    assert result.exit_code == 4 and "cannot be resumed" in result.stderr
    assert not Path("never-written.safetensors").exists()


def test_interrupt_while_resuming_points_at_the_checkpoint_that_exists(splits, tmp_path):
    train, test = splits
    first = tmp_path / "first.safetensors"
    fit(Recipe(epochs=1, batch_size=64), train, test, CPU, seed=0, out=first)

    class Stop:
        def epoch_start(self, *args):
            raise KeyboardInterrupt

        def batch_end(self, *args):
            pass

        def epoch_end(self, stats):
            pass

    with pytest.raises(TrainingInterrupted) as info:
        fit(
            Recipe(epochs=3, batch_size=64),
            train,
            test,
            CPU,
            seed=0,
            out=tmp_path / "second.safetensors",
            resume=load_resume(first),
            callbacks=Stop(),
        )
    assert f"epoch 1 is saved in {first}" in str(info.value)
    assert not (tmp_path / "second.safetensors").exists()


def test_bad_learning_rate(invoke, fake_data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("train", "--data-dir", str(fake_data), "--lr", "0")
    assert result.exit_code == 2 and "--lr must be above 0" in result.stderr
    assert not Path("checkpoints").exists(), "a refused run creates nothing"


def test_plot_into_an_unwritable_place_fails_first(invoke, fake_data, tmp_path):
    pytest.importorskip("matplotlib")
    (tmp_path / "taken.png").mkdir()
    result = invoke(
        "evaluate", "--data-dir", str(fake_data), "--weights", "random", "--plot", str(tmp_path / "taken.png")
    )
    assert result.exit_code == 2 and "is a directory" in result.stderr


def test_ctrl_c_keeps_the_last_epoch_and_resume_continues(fake_data, invoke, tmp_path):
    """A real SIGINT to the installed command: exit 130, one line naming the checkpoint, a valid file that
    resumes (the resumed run is in-process)."""
    import signal
    import time

    from tests.conftest import train_until_first_checkpoint

    out = tmp_path / "run.safetensors"
    proc = train_until_first_checkpoint(fake_data, out)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    err = err.decode()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    last = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(last) == 1 and "is saved in" in last[0] and f"--resume {out}" in last[0]
    done = read_checkpoint(out).metadata["epochs"]
    assert 1 <= done < 400
    resumed = invoke(
        "train",
        "--data-dir",
        str(fake_data),
        "--resume",
        str(out),
        "--epochs",
        str(done + 1),
        "--json",
        "--device",
        "cpu",
    )
    assert resumed.exit_code == 0, resumed.stderr
    assert json.loads(resumed.stdout)["epochs"] == done + 1


def test_resume_with_a_calibration_hold_out_continues_exactly(splits, tmp_path):
    """The held-out images take no optimizer steps; resuming must count steps the same way."""
    train, test = splits
    recipe = Recipe(epochs=2, batch_size=32, holdout=0.1)
    straight = fit(recipe, train, test, CPU, seed=4, out=tmp_path / "straight.safetensors")
    out = tmp_path / "run.safetensors"
    with pytest.raises(TrainingInterrupted):
        fit(recipe, train, test, CPU, seed=4, out=out, callbacks=StopAtSecondEpoch())
    assert int(len(train.images) * 0.1) > 0 and read_checkpoint(out).metadata["epochs"] == 1
    resumed = fit(recipe, train, test, CPU, seed=4, out=out, resume=load_resume(out))
    a, b = _weights(straight.model), _weights(resumed.model)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.temperature == straight.temperature


def test_the_label_smoothed_train_loss_is_labelled_and_its_floor_is_right():
    from rich.console import Console

    from fashionnet.epochs import EpochStats
    from fashionnet.render.console import Trimmed
    from fashionnet.render.training import epoch_line, epochs_table, losses_note, smoothing_floor

    target = torch.full((10,), 0.02)
    target[3] = 0.82  # what smoothing 0.2 asks for; predicting exactly it is the best there is
    best = torch.nn.functional.cross_entropy(target.log()[None], torch.tensor([3]), label_smoothing=0.2)
    assert smoothing_floor(0.2) == pytest.approx(best.item(), abs=1e-6) and round(smoothing_floor(0.2), 3) == 0.867
    assert smoothing_floor(0.0) == 0.0
    stats = EpochStats(1, 0.95, 0.9, 0.43, 0.88, 2.0, 100.0, 0.001)
    assert epoch_line(stats, smoothed=True).startswith("epoch   1  train loss* 0.9500")
    console = Console(width=80, color_system=None, record=True)
    console.print(Trimmed(epochs_table([stats], 0.2)))
    text = console.export_text()
    assert "Train loss*" in text and "cannot fall below 0.867" in text and "the loss evaluate reports" in text
    assert "label-smoothed" in losses_note(0.2) and "*" not in epoch_line(stats)


def test_training_output_says_which_loss_is_which(invoke, fake_data, tmp_path):
    from fashionnet import data, teacher
    from tests.test_distill import fake_targets

    teacher.save_targets(fake_targets(data.load_split("train", fake_data)), tmp_path / "answers.npz")
    result = invoke(
        "train",
        "--data-dir",
        str(fake_data),
        "--epochs",
        "1",
        "--out",
        str(tmp_path / "m.safetensors"),
        "--teacher",
        str(tmp_path / "answers.npz"),
    )
    assert result.exit_code == 0, result.stderr
    shown = " ".join(result.stdout.split())  # the note wraps at 80 columns
    assert "Train loss*" in shown and "plain cross-entropy" in shown and "distance to the teacher" in shown
    assert result.stderr.count("label-smoothed") == 1 and "train loss* " in result.stderr
    evaluation = invoke("evaluate", "--data-dir", str(fake_data), "--weights", str(tmp_path / "m.safetensors"))
    assert "(mean cross-entropy of the raw logits)" in evaluation.stdout
