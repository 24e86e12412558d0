"""Rerun every command shown in README.md and docs/*.md and write what it prints today under it.

A shown command is a fenced block whose first line is `$ fashionnet ...` (an environment assignment such
as `NO_COLOR=1` may come first, `>/dev/null`, `2>/dev/null` or `< FILE` may come last); a block may hold
several `$ ` lines, each followed by its output. Every command runs in-process through Typer's test
runner, the way tests/test_docs.py runs them, in a fixed environment: NO_COLOR=1, COLUMNS=80,
FASHIONNET_DEVICE=cpu, one torch thread (as each test worker runs), an empty cache folder, and the
repository root as the working folder (a temporary folder of links to it, so that files a command
writes, such as `--out model.onnx`, do not land in the checkout). What a terminal would show is
written: stderr and stdout in the order printed.

A comment on the line just before a block's fence changes how it is treated:

    <!-- docs: timings -->     seconds vary from run to run: the test compares the block with every
                               duration masked (the generator still writes the real ones)
    <!-- docs: slow -->        the generator reruns it, the test does not (minutes of training)
    <!-- docs: keep=1-17,-30- --> keep only these lines of each output (1-based ranges; a negative
                               number counts from the end, an open end runs to it), with one line
                               saying how many were left out wherever some were
    <!-- docs: skip -->        never rerun (for reading only, e.g. something that needs the internet)

    python tools/regen_docs.py           rewrite every block in place (slow ones included)
    python tools/regen_docs.py --fast    leave the slow blocks as they are
    python tools/regen_docs.py --check   change nothing; list the blocks that differ, exit 1 if any
    python tools/regen_docs.py --only "recipe ladder"    only the blocks with such a command
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shlex
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {"NO_COLOR": "1", "COLUMNS": "80", "FASHIONNET_DEVICE": "cpu"}
UNSET = ("FASHIONNET_DATA", "FORCE_COLOR", "TERM", "LINES")
FENCE = "```"
DIRECTIVE = re.compile(r"^<!--\s*docs:\s*(.*?)\s*-->\s*$")
# Durations as fashionnet prints them: "2.9s", "58.2s", "31.1 s", "0:00:03", images per second, and the
# Seconds column that ends a row of the epochs table ("│    3.4").
DURATION = re.compile(r"\b\d+(?:\.\d+)?(?: ?s\b)|\b\d+:\d\d:\d\d\b|\b[\d,]+ img/s\b|(?<=│)\s*\d+\.\d+$")


@dataclass
class Shown:
    """One `$ ` line of a block and the output printed under it."""

    command: str  # without the leading "$ "
    output: list[str] = field(default_factory=list)


@dataclass
class Block:
    path: Path
    first: int  # index of the line after the opening fence
    last: int  # index of the closing fence
    shown: list[Shown]
    options: dict[str, str]

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT) if self.path.is_relative_to(ROOT) else self.path}:{self.first}"

    def flag(self, name: str) -> bool:
        return name in self.options


def doc_files(root: Path = ROOT) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def _is_command(line: str) -> bool:
    if not line.startswith("$ "):
        return False
    words = shlex.split(line[2:])
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
        words.pop(0)
    return bool(words) and words[0] == "fashionnet"


def _options(line: str) -> dict[str, str]:
    match = DIRECTIVE.match(line)
    if not match:
        return {}
    out = {}
    for word in match.group(1).split():
        key, _, value = word.partition("=")
        out[key] = value
    return out


def find_blocks(path: Path, lines: list[str]) -> list[Block]:
    """The fenced blocks of a document that show fashionnet commands."""
    blocks, i = [], 0
    while i < len(lines):
        if not lines[i].startswith(FENCE):
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith(FENCE)), len(lines))
        body = lines[i + 1 : end]
        if body and _is_command(body[0]):
            shown: list[Shown] = []
            for line in body:
                if _is_command(line):
                    shown.append(Shown(line[2:]))
                else:
                    shown[-1].output.append(line)
            options = _options(lines[i - 1]) if i > 0 else {}
            blocks.append(Block(path, i + 1, end, shown, options))
        i = end + 1
    return blocks


@dataclass
class Invocation:
    env: dict[str, str]
    args: list[str]
    stdin: str | None = None  # a file to read as stdin
    drop_stdout: bool = False
    drop_stderr: bool = False


def parse(command: str) -> Invocation:
    """`VAR=value fashionnet ARGS [>/dev/null] [2>/dev/null] [< FILE]`, as a shell would split it."""
    words = shlex.split(command)
    env = {}
    while re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
        key, _, value = words.pop(0).partition("=")
        env[key] = value
    assert words.pop(0) == "fashionnet"
    invocation = Invocation(env, [])
    while words:
        word = words.pop(0)
        if word in (">/dev/null", "1>/dev/null") or (word in (">", "1>") and words and words[0] == "/dev/null"):
            invocation.drop_stdout = True
            if word in (">", "1>"):
                words.pop(0)
        elif word == "2>/dev/null" or (word == "2>" and words and words[0] == "/dev/null"):
            invocation.drop_stderr = True
            if word == "2>":
                words.pop(0)
        elif word == "<":
            invocation.stdin = words.pop(0)
        elif word.startswith("<") and len(word) > 1:
            invocation.stdin = word[1:]
        elif word in ("|", "&&", ";", ">", ">>", "2>&1"):
            raise ValueError(f"{command!r}: shell syntax {word!r} is not supported in shown commands")
        else:
            invocation.args.append(word)
    return invocation


@contextlib.contextmanager
def environment(extra: dict[str, str], cwd: Path) -> Iterator[None]:
    """The fixed environment, the working folder and one torch thread, all put back afterwards. (The test
    hands in its own, built on pytest's monkeypatch.)"""
    import torch

    saved, here, threads = dict(os.environ), os.getcwd(), torch.get_num_threads()
    try:
        for name in UNSET:
            os.environ.pop(name, None)
        os.environ.update({**ENV, **extra})
        os.chdir(cwd)
        torch.set_num_threads(1)
        yield
    finally:
        torch.set_num_threads(threads)
        os.chdir(here)
        os.environ.clear()
        os.environ.update(saved)


def link_repository(folder: Path, root: Path = ROOT) -> Path:
    """`folder`/repo: a link to each entry of the repository, so commands see its files and what they
    write lands in `folder`; `folder`/cache is the empty user cache."""
    (folder / "cache").mkdir(exist_ok=True)
    repo = folder / "repo"
    repo.mkdir()
    for entry in root.iterdir():
        if not entry.name.startswith(".") or entry.name == ".ci":
            (repo / entry.name).symlink_to(entry)
    return repo


@contextlib.contextmanager
def workdir(root: Path = ROOT) -> Iterator[Path]:
    """A temporary folder that looks like the repository and takes what commands write."""
    with tempfile.TemporaryDirectory(prefix="fashionnet-docs-") as tmp:
        yield link_repository(Path(tmp), root)


def run_in_process(command: str, cwd: Path, env=environment) -> str:
    """What the command shows on a terminal (stderr and stdout as printed), run through Typer's runner."""
    from typer.testing import CliRunner

    from fashionnet.cli import app

    invocation = parse(command)
    cache = cwd.parent / "cache"
    with env({"XDG_CACHE_HOME": str(cache), **invocation.env}, cwd):
        stdin = Path(invocation.stdin).read_bytes() if invocation.stdin else None
        result = CliRunner().invoke(app, invocation.args, input=stdin, prog_name="fashionnet")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise RuntimeError(f"$ {command} raised {result.exception!r}") from result.exception
    if invocation.drop_stdout and invocation.drop_stderr:
        return ""
    if invocation.drop_stdout:
        return result.stderr
    if invocation.drop_stderr:
        return result.stdout
    return result.output


def kept(spec: str, count: int) -> list[int]:
    """The 0-based line numbers `keep=` names among `count` lines: '1-17,-30-' is the first 17 and the
    last 30; '-47--28' the 47th to the 28th line from the end."""
    chosen: set[int] = set()
    for part in filter(None, spec.split(",")):
        match = re.fullmatch(r"(-?\d+)?-(-?\d+)?|(-?\d+)", part)
        if not match:
            raise ValueError(f"keep={spec!r}: {part!r} is not a line range")
        single = match.group(3)
        first, last = (single, single) if single else (match.group(1) or "1", match.group(2) or "-1")
        position = [int(n) - 1 if int(n) > 0 else count + int(n) for n in (first, last)]
        chosen.update(range(max(0, position[0]), min(count - 1, position[1]) + 1))
    return sorted(chosen)


def abridge(lines: list[str], options: dict[str, str]) -> list[str]:
    """The lines `keep=` names, a '... (N lines left out here)' line standing in for each gap."""
    if not options.get("keep"):
        return lines
    out, previous = [], -1
    for number in kept(options["keep"], len(lines)):
        if number > previous + 1:
            out.append(f"  ... ({number - previous - 1} lines left out here)")
        out.append(lines[number])
        previous = number
    if previous < len(lines) - 1:
        out.append(f"  ... ({len(lines) - 1 - previous} lines left out here)")
    return out


def block_lines(block: Block, run: Callable[[str, Path], str], cwd: Path | None = None) -> list[str]:
    """The block's body as the commands print it today. Each block runs in a fresh working folder (`cwd`,
    or a temporary one), so what one block writes (`--out model.onnx`) cannot change the next; a
    block's commands share it."""
    out = []
    with contextlib.nullcontext(cwd) if cwd is not None else workdir() as folder:
        for shown in block.shown:
            printed = run(shown.command, folder)
            lines = printed[:-1].split("\n") if printed.endswith("\n") else (printed.split("\n") if printed else [])
            out += [f"$ {shown.command}", *abridge(lines, block.options)]
    return out


def masked(lines: list[str]) -> list[str]:
    return [DURATION.sub("<time>", line) for line in lines]


def same(block: Block, old: list[str], new: list[str]) -> bool:
    """Whether a block still shows what the commands print (durations aside in a `timings` block)."""
    return masked(old) == masked(new) if block.flag("timings") else old == new


def regenerate(
    path: Path, run: Callable[[str, Path], str], fast: bool = False, only: str | None = None
) -> tuple[str, list[Block]]:
    """The document with every out-of-date block rewritten, and those blocks. A `timings` block whose
    only differences are durations is left as it is, so rerunning the generator changes nothing. `only`:
    just the blocks with a command that contains it (one slow block, without rerunning every other)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    changed = []
    for block in reversed(find_blocks(path, lines)):  # from the end: earlier line numbers stay valid
        if block.flag("skip") or (fast and block.flag("slow")):
            continue
        if only is not None and not any(only in shown.command for shown in block.shown):
            continue
        new = block_lines(block, run)
        if not same(block, lines[block.first : block.last], new):
            changed.append(block)
            lines[block.first : block.last] = new
    return "\n".join(lines), list(reversed(changed))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="leave blocks marked slow as they are")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when a block differs")
    parser.add_argument("--only", metavar="TEXT", help="only the blocks with a command that contains TEXT")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    differ = 0
    for path in doc_files():
        text, changed = regenerate(path, run_in_process, fast=args.fast, only=args.only)
        for block in changed:
            print(f"{'differs' if args.check else 'rewrote'}: {block.where}  $ {block.shown[0].command}")
        differ += len(changed)
        if changed and not args.check:
            path.write_text(text, encoding="utf-8")
    if args.check and differ:
        sys.exit(1)


if __name__ == "__main__":
    main()
