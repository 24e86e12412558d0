"""The app every command registers on, and the doors every command line goes through: usage errors as
one line (exit 2), help in one style, FashionNetError and OSError as one line and their exit code
(`handle_errors`), the completion options answered for the shell named, and `run`/`main`."""

import functools
import os
import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup, TyperOption

from fashionnet import __version__
from fashionnet.cli.options import Lang
from fashionnet.errors import ExitCode, FashionNetError, printable
from fashionnet.render.output import word

EXIT_CODES_HELP = (
    "Exit codes: 0 success; 1 some inputs failed (the others were processed) or a file could not be "
    "read; 2 usage error (bad option, unknown or unavailable device, refused overwrite, output that cannot "
    "be written or that another run wrote meanwhile); 3 FashionMNIST missing, corrupt or incomplete "
    "(evaluate and train need the whole test split), or train's photo drawings or teacher's answers missing, "
    "corrupt or stale; "
    "4 checkpoint or ONNX file missing, corrupt, of the wrong shape or dtype, or giving outputs that are "
    "not numbers; 5 an export failed its own check; 130 interrupted; 141 stdout's reader went away."
)


class OneLineErrors(TyperGroup):
    """Report usage errors as a single line on stderr (exit 2) instead of a usage box."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        for param in self.params:  # both answered by fashionnet.completion, for the shell named or this one
            if isinstance(param, TyperOption) and param.name in COMPLETION_HELP:
                param.help = COMPLETION_HELP[param.name]
        try:
            check_completion_request()
            if answer_completion_option(sys.argv[1:] if args is None else list(args), prog_name):
                if not standalone_mode:
                    return 0
                sys.exit(0)
            rv = super().main(
                args=args,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
        except typer.TyperException as exc:  # Typer's (vendored click's) usage and parameter errors
            if not standalone_mode:
                raise
            ctx = getattr(exc, "ctx", None)
            where = ctx.command_path if ctx is not None else "fashionnet"
            hint = f" (see '{where} --help')" if exc.exit_code == ExitCode.USAGE else ""
            message = printable(" ".join(exc.format_message().split()))
            typer.echo(f"{printable(where)}: {error_word(lang_in(args))}{message}{hint}", err=True)
            sys.exit(exc.exit_code)
        except FashionNetError as exc:  # raised while printing help or usage (stdout full or gone)
            if not standalone_mode:
                raise
            if exc.exit_code != ExitCode.BROKEN_PIPE:
                typer.echo(f"{error_word(lang_in(args))}{printable(str(exc))}", err=True)
            sys.exit(int(exc.exit_code))
        except typer.Abort:
            if not standalone_mode:
                raise
            typer.echo(word(lang_in(args), "cli.interrupted"), err=True)
            sys.exit(ExitCode.INTERRUPTED)
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)


class OneStyleHelp(TyperCommand):
    """Help in one style: every value is named by its metavar (N, FILE, DIR, PICTURE, en|zh), arguments
    included, never by Typer's type names (<int range>, <list[str]>, <path>)."""

    def collect_usage_pieces(self, ctx) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                pieces.append((param.metavar or param.name.upper()) + ("..." if param.nargs != 1 else ""))
        return pieces

    def format_options(self, ctx, formatter) -> None:
        arguments, options = [], []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                name = (param.metavar or param.name.upper()) + ("..." if param.nargs != 1 else "")
                arguments.append((name, record[1]))
            else:
                options.append(record)
        for title, rows in (("Arguments", arguments), ("Options", options)):
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


COMPLETION_HELP = {
    "install_completion": "Install completion for SHELL (bash, zsh, fish, pwsh) or, without one, the current shell.",
    "show_completion": "Print the completion script for SHELL or, without one, the current shell.",
}


def answer_completion_option(args: list[str], prog_name: str | None) -> bool:
    """`--install-completion [SHELL]` / `--show-completion [SHELL]`, answered before Typer parses (its own
    options ignore the shell named); the module (and the file-writing one under it) imported only then."""
    if not any(arg.partition("=")[0] in ("--install-completion", "--show-completion") for arg in args):
        return False
    from fashionnet.completion import answer

    name = prog_name or os.path.basename(sys.argv[0])
    return answer(args, "fashionnet" if name in ("", "__main__.py") else name)


def check_completion_request() -> None:
    """bash asks for completions with COMP_WORDS and a whole-number COMP_CWORD; anything else (run by
    hand) is one usage line, not Typer's traceback."""
    if not os.environ.get("_FASHIONNET_COMPLETE", "").startswith("complete_bash"):
        return
    cword = os.environ.get("COMP_CWORD", "")
    if "COMP_WORDS" not in os.environ or not cword.isdigit():
        from fashionnet.errors import UsageError

        raise UsageError(
            f"shell completion needs COMP_WORDS and a whole-number COMP_CWORD, as bash sets them "
            f"(COMP_CWORD is {printable(repr(cword))})"
        )


app = typer.Typer(
    cls=OneLineErrors,
    help="Classify FashionMNIST clothing images with the PyTorch tutorial's neural network.",
    epilog=EXIT_CODES_HELP,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh and fish
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: compact at 80 columns and no rich import for --help
)


def error_word(lang: str) -> str:
    """'error: ' before a message; after a full-width colon (Chinese) no space follows."""
    from fashionnet.language import after_colon

    return after_colon(word(lang, "cli.error"))


def lang_in(args) -> str:
    """The --lang a command line asks for, read before the parser has run (for its own error lines)."""
    args = list(args if args is not None else sys.argv[1:])
    for i, arg in enumerate(args):
        if arg in ("--lang", "-l") and i + 1 < len(args) and args[i + 1] in Lang.__members__:
            return args[i + 1]
        if arg.startswith("--lang=") and arg[len("--lang=") :] in Lang.__members__:
            return arg[len("--lang=") :]
    return "en"


def fail(exc: FashionNetError, code: ExitCode | None = None, lang: str = "en") -> typer.Exit:
    from fashionnet.outside_text import for_markup
    from fashionnet.render.console import stderr_console

    code = code if code is not None else exc.exit_code
    if code != ExitCode.BROKEN_PIPE:  # the reader went away: nobody to tell, as `head` expects
        word = for_markup(error_word(lang).rstrip(" "))
        gap = " " if error_word(lang).endswith(" ") else ""
        stderr_console().print(f"[bold red]{word}[/]{gap}{for_markup(str(exc))}", soft_wrap=True)
    return typer.Exit(int(code))


def handle_errors(command):
    """Errors leave through one door: FashionNetError becomes one line and its exit code."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        lang = getattr(kwargs.get("lang"), "value", "en")  # commands with --lang speak it in errors too
        try:
            result = command(*args, **kwargs)
            from fashionnet.streams import raise_if_interrupted

            raise_if_interrupted()  # a Ctrl-C whose KeyboardInterrupt Python dropped (streams.py)
            return result
        except FashionNetError as exc:
            raise fail(exc, lang=lang) from None
        except BrokenPipeError:  # the reader went away (`... | head`): quietly, with 128 + SIGPIPE
            from fashionnet.streams import discard_output

            discard_output(sys.stdout.fileno())
            raise typer.Exit(int(ExitCode.BROKEN_PIPE)) from None
        except OSError as exc:  # a file we had to read or write, named by the system
            where = f"{exc.filename}: " if exc.filename else ""
            raise fail(FashionNetError(f"{where}{exc.strerror or exc}"), ExitCode.INPUT_FAILED, lang) from None
        except KeyboardInterrupt:
            typer.echo(word(lang, "cli.interrupted"), err=True)
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None

    return wrapper


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option("--version", help="Show the version and exit.")] = False,
) -> None:
    if version:
        typer.echo(f"fashionnet {__version__}")
        raise typer.Exit()
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())
        raise typer.Exit()


def run() -> int | str | None:
    """One command line (sys.argv), as the installed command runs it, returning its exit code instead of
    leaving: tests run several in one process this way."""
    from fashionnet.startup import check_current_folder, import_torch_from_a_short_path
    from fashionnet.streams import finish_streams, prepare_streams

    try:  # once, for every command: closed standard streams and a deleted current folder
        prepare_streams()
        check_current_folder()
    except SystemExit as done:
        return done.code
    import_torch_from_a_short_path()
    try:
        try:
            app()
        finally:
            finish_streams()
    except SystemExit as done:  # every way the app ends, with its exit code
        return done.code
    return 0


def main() -> None:
    """The installed command: run, then leave without the interpreter's teardown (fashionnet.startup)."""
    from fashionnet.startup import exit_now

    exit_now(run())


# Exit codes of each command, in its --help (predict and export state theirs beside their decorators).
_INTERRUPTED = "130 interrupted; 141 stdout's reader went away."
EXIT_CODES = {
    "summary": f"Exit codes: 0 success; 2 usage error (bad option, unknown or unavailable device); 4 checkpoint "
    f"missing, corrupt or of the wrong shape; {_INTERRUPTED}",
    "params": f"Exit codes: 0 success; 2 usage error (bad option, no parameter matches --name, refused "
    f"overwrite); 4 bad checkpoint; {_INTERRUPTED}",
    "walkthrough": f"Exit codes: 0 success; 1 the --image picture could not be read; 2 usage error (bad option, "
    f"refused overwrite); 3 FashionMNIST missing or corrupt (--real); 4 bad checkpoint; {_INTERRUPTED}",
    "data": f"Exit codes: 0 FashionMNIST found and complete (with --samples: the folder printed); 2 usage error; "
    f"3 FashionMNIST missing, incomplete or corrupt; {_INTERRUPTED}",
    "train": "Exit codes: 0 trained and saved; 1 a file could not be read; 2 usage error (bad option, refused "
    "overwrite, output that cannot be written); 3 FashionMNIST missing or corrupt, or the photo "
    "drawings (--photos) or the teacher's answers (--teacher) missing, corrupt or stale; 4 bad --resume "
    "checkpoint; 130 interrupted (the last finished epoch is kept); 141 stdout's reader went away.",
    "evaluate": f"Exit codes: 0 success; 2 usage error (bad option, refused overwrite); 3 FashionMNIST missing "
    f"or corrupt; 4 bad checkpoint or ONNX file; {_INTERRUPTED}",
    "explain": f"Exit codes: 0 success; 1 the picture could not be read; 2 usage error (bad option, a folder or "
    f"several files, refused overwrite); 4 bad checkpoint; {_INTERRUPTED}",
}


def finish_commands() -> None:
    """Every command gets the one help style (OneStyleHelp) and its exit codes under its options."""
    for info in app.registered_commands:
        if info.cls in (None, TyperCommand):
            info.cls = OneStyleHelp
        if info.epilog is None:
            info.epilog = EXIT_CODES[info.name or (info.callback.__name__ if info.callback is not None else "")]
