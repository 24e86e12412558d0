"""The command line as a whole: help, errors and exit codes, in-process and as the installed command."""

import subprocess
import sys

import pytest

COMMANDS = ["summary", "params", "walkthrough", "data", "train", "evaluate", "predict", "explain", "export"]


def test_help_lists_commands_and_exit_codes(invoke):
    result = invoke("--help")
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.stdout
    assert "Exit codes" in result.stdout


def test_no_arguments_shows_help(invoke):
    result = invoke()
    assert result.exit_code == 0 and "Usage" in result.stdout


LIGHT_CHECKS = """
import sys
from typer.testing import CliRunner
from fashionnet.cli import app
runner = CliRunner()
for command in COMMANDS:
    r = runner.invoke(app, [command, '--help'])
    assert r.exit_code == 0, r.output
    assert 'torch' not in sys.modules, f'{command} --help imported torch'
import os
os.environ.update(_FASHIONNET_COMPLETE='complete_bash', COMP_WORDS='fashionnet predict --device ', COMP_CWORD='3')
r = runner.invoke(app, [], prog_name='fashionnet')
assert r.stdout.split() == ['auto', 'cpu', 'cuda', 'cuda:0', 'mps', 'xpu'], r.output
assert 'torch' not in sys.modules, 'completion imported torch'
import fashionnet.predict, fashionnet.render.predict, fashionnet.walkthrough, fashionnet.render.walkthrough
import fashionnet.notebook, fashionnet.images, fashionnet.completion
assert 'torch' not in sys.modules, 'a module imported torch at import time'
from fashionnet.images import load_image
load_image(SAMPLE)
assert 'cv2' not in sys.modules, 'opencv imported for --help or a FashionMNIST PNG'
assert 'torch' not in sys.modules, 'images imported torch'
print('ok')
"""


def test_help_completion_and_light_modules_do_not_import_torch():
    """One fresh interpreter: every command's --help, Tab completion, the modules predict and the
    walkthrough import first, and decoding a FashionMNIST PNG never load torch (or opencv)."""
    from tests.conftest import SAMPLES

    code = (
        f"COMMANDS = {[*COMMANDS, 'predict', 'export']!r}\nSAMPLE = {str(SAMPLES / '7-sneaker.png')!r}\n" + LIGHT_CHECKS
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


@pytest.mark.parametrize("device", ["tpu", "cuda:abc", "gpu0"])
def test_unknown_device_is_one_line_exit_2(invoke, device):
    result = invoke("summary", "--device", device)
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0
    assert f"unknown device '{device}'" in result.stderr


def test_device_from_environment(invoke, monkeypatch):
    monkeypatch.setenv("FASHIONNET_DEVICE", "tpu")
    assert invoke("summary").exit_code == 2
    monkeypatch.setenv("FASHIONNET_DEVICE", "cpu")
    result = invoke("summary", "--weights", "random")
    assert result.exit_code == 0 and "Using cpu device" in result.stderr


def test_unknown_option_is_one_line(cli):
    proc = cli("summary", "--frobnicate")
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert err.strip().count("\n") == 0, err
    assert "No such option: --frobnicate" in err and "Traceback" not in err


def test_bad_value_is_one_line(cli):
    proc = cli("summary", "--batch-size", "zero")
    assert proc.returncode == 2
    assert proc.stderr.decode().strip().count("\n") == 0


def test_unavailable_device(cli):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    proc = cli("summary", "--device", "cuda")
    assert proc.returncode == 2
    assert proc.stderr.decode().strip() == "error: device 'cuda' is not available on this machine (try --device cpu)"


def test_walkthrough_same_seed_same_output_and_chinese(cli):
    text = cli("walkthrough", "--seed", "3", "--device", "cpu").stdout.decode()
    assert "Step 13/13" in text  # the installed command's run is in tests/test_smoke.py
    assert cli("walkthrough", "--seed", "3", "--device", "cpu").stdout.decode() == text, "same seed, same output"
    zh = cli("walkthrough", "--lang", "zh", "--step", "6")
    assert zh.returncode == 0 and "第 6/13 步" in zh.stdout.decode()


def test_walkthrough_interactive_never_blocks_without_a_terminal(cli):
    proc = cli("walkthrough", "--interactive", "--step", "2", timeout=60)
    assert proc.returncode == 0 and "Step 2/13" in proc.stdout.decode()
    proc = cli("walkthrough", "--interactive", input=b"", timeout=60)
    assert proc.returncode == 0 and "Step 13/13" in proc.stdout.decode()


def test_walkthrough_bad_step_and_language(invoke):
    result = invoke("walkthrough", "--step", "0")
    assert result.exit_code == 2 and "out of range" in result.stderr
    result = invoke("walkthrough", "--lang", "fr")
    assert result.exit_code == 2 and "--lang" in result.stderr


def test_walkthrough_real_uses_test_images(invoke, fake_data):
    result = invoke("walkthrough", "--real", "--data-dir", str(fake_data), "--step", "7", "--weights", "random")
    assert result.exit_code == 0, result.stderr
    assert "true:" in result.stdout


def test_walkthrough_real_without_data_is_exit_3(invoke, no_system_data):
    result = invoke("walkthrough", "--real")
    assert result.exit_code == 3 and "FashionMNIST not found" in result.stderr


def test_empty_weights_is_a_usage_error_not_the_shipped_file(invoke):
    result = invoke("summary", "--weights", "")
    assert result.exit_code == 2 and "--weights is empty" in result.stderr, result.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_help_names_values_one_way_and_gives_exit_codes(invoke, command):
    import re

    text = invoke(command, "--help").stdout
    assert not re.search(r"<[a-z]|\{[A-Z]", text), "no Typer type names (<int range>, <list[str]>, {PATH})"
    for line in text.splitlines():  # every option that takes a value names it in capitals or as choices
        match = re.match(r"\s+(?:-\w, )?--[\w-]+(?: / --[\w-]+)? ([^\s/]\S*)", line)
        if match:
            assert re.fullmatch(r"[A-Z][A-Z.|a-z]*|[a-z]+(\|[a-z]+)+", match.group(1)), line
    flat = " ".join(text.split())
    assert "Exit codes: 0 " in flat and "130 interrupted" in flat


def test_lr_help_says_what_its_error_says(invoke, fake_data):
    from fashionnet.recipe import RECIPE_RULES

    words = RECIPE_RULES["lr"][1]
    assert words in " ".join(invoke("train", "--help").stdout.split())
    for value in ("0", "-1", "1e9", "nan"):
        result = invoke("train", "--lr", value, "--data-dir", str(fake_data))
        assert result.exit_code == 2 and f"--lr must be {words}" in result.stderr, (value, result.stderr)


def test_plot_options_say_what_they_draw(invoke):
    assert "confusion matrix" in " ".join(invoke("evaluate", "--help").stdout.split())
    assert "learning curves" in " ".join(invoke("train", "--help").stdout.split())
    assert "colour bar" in " ".join(invoke("params", "--help").stdout.split())
    assert "one PNG" in " ".join(invoke("explain", "--help").stdout.split())
