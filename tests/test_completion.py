"""Shell completion: scripts for bash, zsh and fish, and what Tab offers (commands, options, choices)."""

import pytest

SCRIPT_MARKS = {
    "bash": "complete -o default -F _fashionnet_completion fashionnet",
    "zsh": "compdef _fashionnet_completion fashionnet",
    "fish": "complete --command fashionnet",
}


@pytest.fixture
def complete(runner):
    """Run the app in-process under the name the shell knows it by (Typer's runner would say 'root')."""
    from fashionnet.cli import app

    return lambda *args: runner.invoke(app, list(args), prog_name="fashionnet", catch_exceptions=False)


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_show_completion_for_each_shell(complete, monkeypatch, shell):
    # Typer detects the running shell; this switch lets --show-completion take the shell as its value.
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    result = complete("--show-completion", shell)
    assert result.exit_code == 0, result.stderr
    assert SCRIPT_MARKS[shell] in result.stdout
    assert "_FASHIONNET_COMPLETE" in result.stdout


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_the_command_prints_each_script(cli, shell):
    result = cli(env={"_FASHIONNET_COMPLETE": f"source_{shell}"})
    assert result.returncode == 0, result.stderr
    assert SCRIPT_MARKS[shell] in result.stdout.decode()


def bash_complete(run, line: str) -> list[str]:
    """What bash's Tab offers after `line` (as the bash script asks the command; the installed command's
    answer is checked in tests/test_smoke.py)."""
    words = line.split(" ")
    result = run(env={"_FASHIONNET_COMPLETE": "complete_bash", "COMP_WORDS": line, "COMP_CWORD": str(len(words) - 1)})
    assert result.returncode == 0, result.stderr
    return result.stdout.decode().split()


def test_tab_completes_commands_options_and_choices(cli):
    assert bash_complete(cli, "fashionnet ") == [
        "summary",
        "params",
        "walkthrough",
        "data",
        "train",
        "evaluate",
        "predict",
        "explain",
        "export",
    ]
    assert bash_complete(cli, "fashionnet predict --device ") == ["auto", "cpu", "cuda", "cuda:0", "mps", "xpu"]
    assert bash_complete(cli, "fashionnet predict --device cu") == ["cuda", "cuda:0"]
    assert bash_complete(cli, "fashionnet walkthrough --lang ") == ["en", "zh"]
    assert bash_complete(cli, "fashionnet explain --lang ") == ["en", "zh"]
    assert bash_complete(cli, "fashionnet train --recipe ") == ["default", "tutorial", "ladder"]
    assert bash_complete(cli, "fashionnet export --format ") == ["onnx", "torchscript", "safetensors"]
    assert {"--out", "--opset", "--half", "--batch-size"} <= set(bash_complete(cli, "fashionnet export --"))


def test_zsh_and_fish_complete_device_choices(complete, monkeypatch):
    monkeypatch.setenv("_FASHIONNET_COMPLETE", "complete_zsh")
    monkeypatch.setenv("_TYPER_COMPLETE_ARGS", "fashionnet evaluate --device ")
    result = complete()
    assert all(f'"{name}"' in result.stdout for name in ("auto", "cpu", "cuda", "mps", "xpu"))
    monkeypatch.setenv("_FASHIONNET_COMPLETE", "complete_fish")
    monkeypatch.setenv("_TYPER_COMPLETE_FISH_ACTION", "get-args")
    monkeypatch.setenv("_TYPER_COMPLETE_ARGS", "fashionnet train --device c")
    result = complete()
    assert result.stdout.split() == ["cpu", "cuda", "cuda:0"]


@pytest.mark.parametrize(
    "line", ["fashionnet predict ", "fashionnet predict --weights ", "fashionnet export --out ", "fashionnet explain "]
)
def test_paths_complete_file_names(cli, complete, monkeypatch, line):
    # bash gets no words and falls back to file names itself (-o default); zsh is told to run _files.
    assert bash_complete(cli, line) == []
    monkeypatch.setenv("_FASHIONNET_COMPLETE", "complete_zsh")
    monkeypatch.setenv("_TYPER_COMPLETE_ARGS", line)
    assert complete().stdout.strip() == "_files"


@pytest.fixture
def running_shell(monkeypatch, tmp_path):
    """Pretend the command runs under `shell` (Typer's own detection left on), with an empty home."""
    import fashionnet.completion

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", raising=False)

    def pretend(shell: str | None):
        monkeypatch.setattr(fashionnet.completion, "detect_shell", lambda: shell)
        return home

    return pretend


def test_the_shell_named_wins_over_the_running_one(complete, running_shell):
    home = running_shell("bash")
    for args in (["--show-completion", "zsh"], ["--show-completion=zsh"], ["--show-completion", "ZSH"]):
        result = complete(*args)
        assert result.exit_code == 0, result.stderr
        assert SCRIPT_MARKS["zsh"] in result.stdout and SCRIPT_MARKS["bash"] not in result.stdout
    result = complete("--install-completion", "zsh")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("zsh completion installed in ")
    assert SCRIPT_MARKS["zsh"] in (home / ".zfunc" / "_fashionnet").read_text()
    assert not (home / ".bashrc").exists() and not (home / ".bash_completions").exists()


def test_a_shell_without_completion_is_refused_in_one_line(complete, running_shell):
    home = running_shell("dash")
    result = complete("--show-completion")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "dash shell" in result.stderr
    assert "--show-completion bash" in result.stderr
    result = complete("--show-completion", "bash")  # from dash, a named shell still prints
    assert result.exit_code == 0 and SCRIPT_MARKS["bash"] in result.stdout
    for option in ("--install-completion", "--show-completion"):
        result = complete(option, "tcsh")
        assert result.exit_code == 2 and result.stdout == "" and "'tcsh'" in result.stderr
    assert list(home.iterdir()) == []
    running_shell(None)  # not detected at all
    result = complete("--install-completion")
    assert result.exit_code == 2 and "could not be detected" in result.stderr and list(home.iterdir()) == []


def test_typers_private_script_matches_its_public_one(cli, complete, monkeypatch):
    """script() reads Typer's private module; this catches a Typer that changed it, and the guard below
    keeps such a Typer to one line naming the public way."""
    import sys

    from fashionnet.completion import script

    for shell in ("bash", "zsh", "fish"):
        public = cli(env={"_FASHIONNET_COMPLETE": f"source_{shell}"}).stdout.decode().strip()
        assert script("fashionnet", shell).strip() == public
    monkeypatch.setitem(sys.modules, "typer._completion_shared", None)  # as if Typer removed it
    result = complete("--show-completion", "zsh")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "_FASHIONNET_COMPLETE=source_zsh fashionnet" in result.stderr
