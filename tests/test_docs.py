"""README.md and docs/*.md show what the commands print today: every shown command is rerun in-process
(tools/regen_docs.py, the same code that rewrites them) and compared with the block under it."""

import contextlib
import difflib
import importlib.util
import sys
from pathlib import Path

import pytest

from tests.conftest import needs_real_data

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("regen_docs", ROOT / "tools" / "regen_docs.py")
assert _spec is not None and _spec.loader is not None
docs = sys.modules.setdefault("regen_docs", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(docs)

BLOCKS = [block for path in docs.doc_files() for block in docs.find_blocks(path, path.read_text("utf-8").split("\n"))]
CHECKED = [block for block in BLOCKS if not (block.flag("skip") or block.flag("slow"))]


@needs_real_data
@pytest.mark.parametrize("block", CHECKED, ids=[block.where for block in CHECKED])
def test_the_block_shows_what_its_commands_print(block, tmp_path, monkeypatch):
    import torch

    @contextlib.contextmanager
    def environment(extra, cwd):  # the generator's environment, through monkeypatch
        with monkeypatch.context() as patch:
            for name in docs.UNSET:
                patch.delenv(name, raising=False)
            for name, value in {**docs.ENV, **extra}.items():
                patch.setenv(name, value)
            patch.chdir(cwd)
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                yield
            finally:
                torch.set_num_threads(threads)

    old = block.path.read_text("utf-8").split("\n")[block.first : block.last]
    run = lambda command, cwd: docs.run_in_process(command, cwd, env=environment)  # noqa: E731
    new = docs.block_lines(block, run, cwd=docs.link_repository(tmp_path))
    if not docs.same(block, old, new):
        diff = "\n".join(difflib.unified_diff(old, new, "in the docs", "printed today", lineterm="", n=1))
        pytest.fail(f"{block.where} is out of date; run `python tools/regen_docs.py`:\n{diff}")


def test_the_docs_show_commands_and_every_block_can_be_rerun():
    assert len(CHECKED) >= 10 and {block.path.name for block in BLOCKS} >= {"README.md", "commands.md"}
    for block in BLOCKS:  # the slow ones too: the generator must be able to run them
        for shown in block.shown:
            assert docs.parse(shown.command).args, block.where
    for path in docs.doc_files():  # a `$ fashionnet` line outside a recognised block would go unchecked
        lines = path.read_text("utf-8").split("\n")
        inside = {i for block in docs.find_blocks(path, lines) for i in range(block.first, block.last)}
        strays = [i for i, line in enumerate(lines) if line.startswith("$ fashionnet") and i not in inside]
        assert not strays, f"{path.name}: lines {strays}"


def test_commands_are_split_as_a_shell_would():
    p = docs.parse("NO_COLOR=1 COLUMNS=60 fashionnet params --name 'linear_relu_stack.0.*' >/dev/null")
    assert (p.env, p.args, p.drop_stdout, p.drop_stderr) == (
        {"NO_COLOR": "1", "COLUMNS": "60"},
        ["params", "--name", "linear_relu_stack.0.*"],
        True,
        False,
    )
    p = docs.parse("fashionnet explain - < shirt.png 2> /dev/null")
    assert (p.args, p.stdin, p.drop_stderr) == (["explain", "-"], "shirt.png", True)
    with pytest.raises(ValueError, match="not supported"):
        docs.parse("fashionnet data | head")


def test_regenerate_rewrites_outputs_and_honours_the_marks(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text(
        "\n".join(
            [
                "Text.",
                "```",
                "$ fashionnet data",
                "old",
                "```",
                "<!-- docs: skip -->",
                "```",
                "$ fashionnet data --download",
                "kept",
                "```",
                "<!-- docs: slow timings -->",
                "```",
                "$ fashionnet train",
                "Saved x (1.0s)",
                "```",
                "<!-- docs: keep=1,-1- -->",
                "```",
                "$ fashionnet summary",
                "x",
                "```",
                "```",
                "$ fashionnet evaluate",
                "a",
                "$ fashionnet predict x",
                "b",
                "```",
            ]
        ),
        "utf-8",
    )
    printed = {
        "data": "new\n",
        "train": "Saved x (2.5s)\n",
        "summary": "1\n2\n3\n4\n",
        "evaluate": "e\n\n",
        "predict x": "p\n",
    }
    run = lambda command, cwd: printed[command.removeprefix("fashionnet ")]  # noqa: E731
    text, changed = docs.regenerate(doc, run, fast=True)
    lines = text.split("\n")
    assert lines[2:5] == ["$ fashionnet data", "new", "```"]
    assert "kept" in lines and "Saved x (1.0s)" in lines, "skip and (with --fast) slow blocks stay"
    assert lines[17:21] == ["$ fashionnet summary", "1", "  ... (2 lines left out here)", "4"]
    assert lines[23:28] == ["$ fashionnet evaluate", "e", "", "$ fashionnet predict x", "p"]
    assert [block.shown[0].command for block in changed] == [
        "fashionnet data",
        "fashionnet summary",
        "fashionnet evaluate",
    ]
    text, changed = docs.regenerate(doc, run)  # without --fast the slow block runs; only seconds differ: kept
    assert "Saved x (1.0s)" in text.split("\n") and "fashionnet train" not in [b.shown[0].command for b in changed]
    assert docs.masked(["epoch 1  2.9s", "Saved m (58.2s)", "took 31.1 s", "   21 │ 0.9436 │    3.4"]) == [
        "epoch 1  <time>",
        "Saved m (<time>)",
        "took <time>",
        "   21 │ 0.9436 │<time>",
    ]


def test_keep_names_lines_from_either_end():
    assert docs.kept("1-3,-2-", 10) == [0, 1, 2, 8, 9]
    assert docs.kept("-4--3", 10) == [6, 7] and docs.kept("5", 10) == [4] and docs.kept("8-", 10) == [7, 8, 9]
    lines = [str(n) for n in range(1, 11)]
    assert docs.abridge(lines, {"keep": "2-3"}) == [
        "  ... (1 lines left out here)",
        "2",
        "3",
        "  ... (7 lines left out here)",
    ]
    with pytest.raises(ValueError):
        docs.kept("a-b", 3)


def test_quick_start_ends_with_your_own_photo_by_a_line_that_works_after_make_run():
    import re
    import shlex

    readme = (ROOT / "README.md").read_text("utf-8")
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    makefile = (ROOT / "Makefile").read_text("utf-8")
    bin_dir = re.search(r"^BIN\s*:=\s*\$\(VENV\)/bin", makefile, re.M) and re.search(
        r"^VENV\s*:=\s*(\S+)", makefile, re.M
    )
    assert bin_dir, "the Makefile installs into $(VENV)/bin"
    own = [line for line in quick.splitlines() if line.startswith(f"{bin_dir[1]}/bin/fashionnet ")]
    assert [shlex.split(line)[1] for line in own] == ["predict", "explain"], "the exact lines, after make run"
    assert "source .venv/bin/activate" in quick
    # every picture the learning path names is either the reader's own photo (introduced above) or shipped
    path = readme.split("## A learning path", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"[\w./-]+\.(?:jpg|png)", path))
    photo = shlex.split(own[0])[2]
    assert named and all(name == photo or (ROOT / name).is_file() for name in named), named


def test_make_run_shows_what_its_top_k_changes():
    makefile = (ROOT / "Makefile").read_text("utf-8")
    readme = (ROOT / "README.md").read_text("utf-8")
    for line in makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0].splitlines()[1:]:
        command = line.strip().split("fashionnet ", 1)[1]
        assert f"$ fashionnet {command}\n" in readme, "the README shows what make run prints"
