"""`--install-completion`: the shell's completion script, written where the shell reads it.

Typer's own installer rewrites ~/.bashrc in place (a full disk would leave it half written), creates a
missing home folder, and answers a read-only or directory ~/.bashrc with a traceback. This one follows
fashionnet's rules for every file it writes (files.atomic_write) and refuses in one line what it cannot do,
saying what to add by hand. Typer still generates the scripts and answers Tab.
"""

from __future__ import annotations

import os
from pathlib import Path

from fashionnet.errors import OutputError, UsageError, printable
from fashionnet.files import write_bytes_atomically

SHELLS = ("bash", "zsh", "fish")  # written here; PowerShell is left to Typer


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
        raise OutputError(f"cannot install shell completion: the home folder {printable(str(home))} does not "
                          "exist (see $HOME); not creating it")
    return home


def _add_lines(rc: Path, lines: list[str], keep_if: str | None = None) -> None:
    """Append the lines that `rc` lacks, atomically; a file we may not change is left alone and the
    error says what to add by hand."""
    by_hand = " and ".join(f"'{line}'" for line in lines)
    try:
        text = rc.read_text(encoding="utf-8", errors="surrogateescape") if rc.exists() else ""
    except OSError as exc:
        raise OutputError(f"cannot install shell completion: {printable(str(rc))}: {exc.strerror or exc}; "
                          f"add {by_hand} to your shell's start-up file yourself") from None
    missing = [line for line in lines if line not in text and not (keep_if and keep_if in text)]
    if not missing:
        return
    if rc.exists() and not os.access(rc, os.W_OK):
        raise OutputError(f"cannot install shell completion: {printable(str(rc))} is read-only; add {by_hand} "
                          "to it yourself")
    new = text + ("" if not text or text.endswith("\n") else "\n") + "".join(f"{line}\n" for line in missing)
    try:
        write_bytes_atomically(rc, new.encode("utf-8", "surrogateescape"))
    except OutputError as exc:
        raise OutputError(f"cannot install shell completion: {exc}; add {by_hand} to it yourself") from None


def install(prog_name: str, shell: str | None) -> tuple[str, Path]:
    """Write the completion script for `shell` (detected when None) and hook it into the shell's start-up
    file; returns (shell, script path). UsageError for a shell we do not complete, OutputError for a
    file we cannot write."""
    from typer._completion_shared import get_completion_script

    shell = shell or detect_shell()
    if shell in ("powershell", "pwsh"):  # Typer asks PowerShell itself where its profile is
        from typer._completion_shared import install as typer_install

        try:
            return typer_install(shell=shell, prog_name=prog_name, complete_var=None)
        except OSError as exc:
            raise OutputError(f"cannot install shell completion: {printable(str(exc.filename or ''))}: "
                              f"{exc.strerror or exc}") from None
    if shell not in SHELLS:
        what = f"the {printable(shell)} shell" if shell else "this shell (it could not be detected)"
        raise UsageError(f"cannot install completion for {what}: fashionnet completes in bash, zsh, fish and "
                         "PowerShell; "
                         "print a script with --show-completion SHELL")
    home = _home()
    complete_var = "_{}_COMPLETE".format(prog_name.replace("-", "_").upper())
    script = get_completion_script(prog_name=prog_name, complete_var=complete_var, shell=shell) + "\n"
    if shell == "bash":
        path = home / ".bash_completions" / f"{prog_name}.sh"
        write_bytes_atomically(path, script.encode())
        _add_lines(home / ".bashrc", [f"source '{path}'"])
    elif shell == "zsh":
        path = home / ".zfunc" / f"_{prog_name}"
        write_bytes_atomically(path, script.encode())
        _add_lines(home / ".zshrc", ["fpath+=~/.zfunc; autoload -Uz compinit; compinit"])
    else:
        path = home / ".config" / "fish" / "completions" / f"{prog_name}.fish"
        write_bytes_atomically(path, script.encode())
    return shell, path


def install_callback(ctx, param, value):
    """Replaces Typer's --install-completion callback (see cli._OneLineErrors)."""
    import typer

    if not value or ctx.resilient_parsing:
        return value
    shell, path = install(ctx.find_root().info_name or "fashionnet", value if isinstance(value, str) else None)
    typer.echo(f"{shell} completion installed in {printable(str(path))}")
    typer.echo("Completion will take effect once you restart the terminal")
    raise typer.Exit(0)
