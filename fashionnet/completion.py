"""`--install-completion [SHELL]` and `--show-completion [SHELL]`: the shell's completion script, printed or
written where the shell reads it.

Typer's own options install the *running* shell's script whatever shell is named (`--install-completion
zsh` from bash installs bash's), refuse `--show-completion bash` from dash, rewrite ~/.bashrc in place (a
full disk would leave it half written), create a missing home folder, and answer a read-only or directory
~/.bashrc with a traceback. fashionnet answers both options itself (cli.typer_app.OneLineErrors reads them
before Typer parses), follows its rules for every file it writes (files.atomic_write) and refuses in one line what it
cannot do, saying what to do instead. Typer still generates the scripts and answers Tab.

Typer has no public function that returns a script: `script()` takes it from the private
`typer._completion_shared` (Typer 0.26 to 0.29 at least; tests/test_completion.py checks it against the public
`_FASHIONNET_COMPLETE=source_SHELL`). If a later Typer moves it, the options say so in one line and name that
public way, which Typer itself answers, instead of failing.
"""

from __future__ import annotations

import os
from pathlib import Path

from fashionnet.errors import OutputError, UsageError, printable
from fashionnet.files import write_bytes_atomically

SHELLS = ("bash", "zsh", "fish")  # written here; PowerShell is left to Typer
KNOWN_SHELLS = (*SHELLS, "powershell", "pwsh")  # the shells Typer has a script for
OPTIONS = ("--install-completion", "--show-completion")
COMPLETED = "fashionnet completes bash, zsh, fish and PowerShell (pwsh)"


def request_in(args: list[str]) -> tuple[str, str | None] | None:
    """The completion option among the root options, before any command: (option, the shell named or None
    for the running one). `--show-completion zsh` and `--show-completion=zsh` name one; a next word that
    starts with '-' is not a shell. None when neither option comes before the command."""
    for i, arg in enumerate(args):
        name, equals, value = arg.partition("=")
        if name in OPTIONS:
            if equals:
                return name, value
            following = args[i + 1] if i + 1 < len(args) else None
            return name, following if following is not None and not following.startswith("-") else None
        if not arg.startswith("-"):  # the command: the options after it are its own
            return None
    return None


def _complete_var(prog_name: str) -> str:
    return "_{}_COMPLETE".format(prog_name.replace("-", "_").upper())


def script(prog_name: str, shell: str) -> str:
    """The completion script for `shell` (one of KNOWN_SHELLS), as Typer writes it."""
    try:
        from typer._completion_shared import get_completion_script

        return get_completion_script(prog_name=prog_name, complete_var=_complete_var(prog_name), shell=shell)
    except (ImportError, AttributeError, TypeError):  # a Typer whose private module changed
        raise UsageError(
            f"this version of Typer does not give fashionnet its {shell} completion script; print it "
            f"with: {_complete_var(prog_name)}=source_{shell} {prog_name}"
        ) from None


def chosen_shell(option: str, shell: str | None) -> str:
    """The shell named (any case), or the running one; UsageError naming the option's use when it is not
    one that fashionnet completes."""
    verb = "install" if option == "--install-completion" else "show"
    if shell is not None:
        if shell.lower() in KNOWN_SHELLS:
            return shell.lower()
        raise UsageError(f"cannot {verb} completion for the shell {printable(repr(shell))}: {COMPLETED}")
    found = detect_shell()
    if found in KNOWN_SHELLS:
        return found
    what = f"the {printable(found)} shell" if found else "this shell (it could not be detected)"
    raise UsageError(f"cannot {verb} completion for {what}: {COMPLETED}; name one, e.g. '{option} bash'")


def detect_shell() -> str | None:
    """The shell that runs us (bash, zsh, sh, ...), or None when it cannot be told."""
    try:
        import shellingham

        return shellingham.detect_shell()[0]
    except Exception:  # shellingham.ShellDetectionFailure, or no shellingham at all
        return None


def _home() -> Path:
    home = Path(os.path.expanduser("~"))
    if not home.is_dir():
        raise OutputError(
            f"cannot install shell completion: the home folder {printable(str(home))} does not "
            "exist (see $HOME); not creating it"
        )
    return home


def _add_lines(rc: Path, lines: list[str], keep_if: str | None = None) -> None:
    """Append the lines that `rc` lacks, atomically; a file we may not change is left alone and the
    error says what to add by hand."""
    by_hand = " and ".join(f"'{line}'" for line in lines)
    try:
        text = rc.read_text(encoding="utf-8", errors="surrogateescape") if rc.exists() else ""
    except OSError as exc:
        raise OutputError(
            f"cannot install shell completion: {printable(str(rc))}: {exc.strerror or exc}; "
            f"add {by_hand} to your shell's start-up file yourself"
        ) from None
    missing = [line for line in lines if line not in text and not (keep_if and keep_if in text)]
    if not missing:
        return
    if rc.exists() and not os.access(rc, os.W_OK):
        raise OutputError(
            f"cannot install shell completion: {printable(str(rc))} is read-only; add {by_hand} to it yourself"
        )
    new = text + ("" if not text or text.endswith("\n") else "\n") + "".join(f"{line}\n" for line in missing)
    try:
        write_bytes_atomically(rc, new.encode("utf-8", "surrogateescape"))
    except OutputError as exc:
        raise OutputError(f"cannot install shell completion: {exc}; add {by_hand} to it yourself") from None


def install(prog_name: str, shell: str | None) -> tuple[str, Path]:
    """Write the completion script for `shell` (the running one when None) and hook it into the shell's
    start-up file; returns (shell, script path). UsageError for a shell we do not complete, OutputError for
    a file we cannot write."""
    shell = chosen_shell("--install-completion", shell)
    if shell in ("powershell", "pwsh"):  # Typer asks PowerShell itself where its profile is
        try:
            from typer._completion_shared import install as typer_install
        except ImportError:
            raise UsageError(
                f"this version of Typer cannot install PowerShell completion for fashionnet; print "
                f"the script with '{prog_name} --show-completion {shell}' and add it to your "
                "profile"
            ) from None
        try:
            return typer_install(shell=shell, prog_name=prog_name, complete_var=None)
        except OSError as exc:
            raise OutputError(
                f"cannot install shell completion: {printable(str(exc.filename or ''))}: {exc.strerror or exc}"
            ) from None
    home = _home()
    text = script(prog_name, shell) + "\n"
    if shell == "bash":
        path = home / ".bash_completions" / f"{prog_name}.sh"
        write_bytes_atomically(path, text.encode())
        _add_lines(home / ".bashrc", [f"source '{path}'"])
    elif shell == "zsh":
        path = home / ".zfunc" / f"_{prog_name}"
        write_bytes_atomically(path, text.encode())
        _add_lines(home / ".zshrc", ["fpath+=~/.zfunc; autoload -Uz compinit; compinit"])
    else:
        path = home / ".config" / "fish" / "completions" / f"{prog_name}.fish"
        write_bytes_atomically(path, text.encode())
    return shell, path


def answer(args: list[str], prog_name: str) -> bool:
    """Answer `--install-completion [SHELL]` or `--show-completion [SHELL]` when `args` ask for one (True),
    printing the script or where it was installed; False when they ask for neither."""
    import typer

    request = request_in(args)
    if request is None:
        return False
    option, named = request
    if option == "--show-completion":
        typer.echo(script(prog_name, chosen_shell(option, named)))
        return True
    shell, path = install(prog_name, named)
    typer.echo(f"{shell} completion installed in {printable(str(path))}")
    typer.echo("Completion will take effect once you restart the terminal")
    return True
