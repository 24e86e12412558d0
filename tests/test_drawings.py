"""The shipped photo drawings (issue 15): what they hold, that they are what `predict` draws today, the
fixed train / validation / hold-out parts, bad drawing files, and training with and without them."""

import io
import json
import re
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from fashionnet import CLASSES, images, photos, teacher
from fashionnet.errors import DataError, ExitCode
from fashionnet.weights import read_checkpoint
from tests.conftest import needs_real_data

SAMPLE_PHOTOS = Path(__file__).resolve().parents[1] / "fashionnet" / "samples" / "photos"


@pytest.fixture(scope="module")
def shipped():
    return photos.load()


def test_shipped_drawings_hold_every_photo_with_its_labels_and_part(shipped):
    assert len(shipped) == 3467 and shipped.drawings.shape[1:] == (28, 28)
    drawings = np.bincount(shipped.owner)  # a segmented garment's mask variants too (erosion may empty one)
    assert (drawings[~shipped.found] == 1).all() and (drawings[shipped.found] == 5).mean() > 0.9
    assert shipped.pipeline == images.PIPELINE_VERSION
    assert photos.DRAWINGS.stat().st_size < 10_000_000
    counts = {name: int((shipped.part == i).sum()) for i, name in enumerate(photos.PARTS)}
    assert counts == {"train": 2255, "validation": 519, "hold-out": 693}
    names = list(shipped.categories)
    assert sorted(names) == [
        "blazer",
        "blouse",
        "dress",
        "hat",
        "hoodie",
        "longsleeve",
        "outwear",
        "pants",
        "polo",
        "shirt",
        "shoes",
        "shorts",
        "skirt",
        "t-shirt",
        "top",
        "undershirt",
    ]
    for i, _name in enumerate(names):  # stratified: every category keeps its 65 / 15 / 20 split
        members = shipped.category == i
        assert (shipped.part[members] == photos.HOLDOUT).sum() == round(0.20 * members.sum())
        assert (shipped.part[members] == photos.VALIDATION).sum() == round(0.15 * members.sum())
    shoes = shipped.category == names.index("shoes")
    assert (shipped.named[shoes] == np.isin(np.arange(10), [5, 7, 9])).all()
    for unknown in ("hat", "shorts", "skirt"):
        assert not shipped.named[shipped.category == names.index(unknown)].any()
    readme = (photos.DRAWINGS.parent / "README.md").read_text()
    assert "CC0" in readme and photos.DATASET_URL in readme
    assert "CC0 1.0 Universal" in (photos.DRAWINGS.parent / "LICENSE").read_text()


def test_parts_are_fixed_by_seed_and_training_never_sees_validation_or_hold_out(shipped):
    again = photos.assign_parts([shipped.categories[c] for c in shipped.category])
    assert np.array_equal(again, shipped.part), "the same labels give the same parts"
    assert not np.array_equal(
        photos.assign_parts([shipped.categories[c] for c in shipped.category], seed=1), shipped.part
    )
    drawn, allowed, rows = shipped.training_set()
    train = ((shipped.part == photos.TRAIN) & shipped.found)[shipped.owner]  # each photo's drawing and its variants
    assert len(drawn) == train.sum() and np.array_equal(drawn, shipped.drawings[train])
    assert np.array_equal(rows, np.flatnonzero(train)) and np.array_equal(allowed, shipped.named[shipped.owner[train]])
    _, members, named = shipped.calibration_set()  # the temperature's photos: validation only, never trained on
    assert (
        shipped.part[np.flatnonzero(shipped.named.any(1) & shipped.found & (shipped.part == photos.VALIDATION))]
        == photos.VALIDATION
    ).all() and len(named) == members.max() + 1


def test_new_kinds_never_move_an_old_photo_between_parts(shipped):
    categories = [str(shipped.categories[c]) for c in shipped.category]
    first = [c in photos.FIRST_CATEGORIES for c in categories]
    alone = photos.assign_parts([c for c, f in zip(categories, first, strict=True) if f])
    assert np.array_equal(alone, shipped.part[np.array(first)]), "the ten first kinds split as before the six new ones"
    new = sorted(set(categories) - set(photos.FIRST_CATEGORIES))
    assert new == ["blazer", "blouse", "hoodie", "polo", "top", "undershirt"]
    for kind in new:  # each new kind has its own fixed hold-out and validation part
        parts = shipped.part[np.array(categories) == kind]
        assert (parts == photos.HOLDOUT).sum() >= 3 and (parts == photos.VALIDATION).sum() >= 3


def _sample_originals() -> dict[str, str]:
    """The table in samples/photos/README.md: shipped file -> its path in the data set."""
    rows = re.findall(r"^\| (\S+\.jpg) \| (\S+\.jpg) \|$", (SAMPLE_PHOTOS / "README.md").read_text(), re.M)
    assert len(rows) == 6
    return dict(rows)


def test_shipped_drawings_are_what_predict_draws_of_the_shipped_photos(shipped):
    """The drawings go stale when the drawing pipeline changes: remake them (tools/make_drawings.py) and
    bump images.PIPELINE_VERSION. The six sample photos are photos of the set, byte for byte."""
    where = {p: i for i, p in enumerate(shipped.path.tolist())}
    for name, original in _sample_originals().items():
        view = images.load_view(SAMPLE_PHOTOS / name)
        index = where[original]
        assert np.array_equal(shipped.drawings[shipped.first_drawing()[index]], view.image), name
        assert bool(shipped.found[index]) == view.found


def _bad(tmp_path: Path, shipped, **changes) -> Path:
    arrays = {
        k: getattr(shipped, k)
        for k in ("drawings", "owner", "path", "category", "categories", "named", "acceptable", "found", "part")
    }
    arrays.update(
        pipeline=np.int64(shipped.pipeline),
        split_seed=np.int64(0),
        dataset=np.str_("d"),
        url=np.str_("u"),
        licence=np.str_("l"),
    )
    arrays.update(changes)
    path = tmp_path / "bad.npz"
    np.savez_compressed(path, **arrays)
    return path


def _replace_member(path: Path, key: str, data: bytes) -> None:
    """Rewrite the .npz at `path` with array `key` replaced by raw .npy bytes (a forged header, say)."""
    with zipfile.ZipFile(path) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    members[key + ".npy"] = data
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, content in members.items():
            archive.writestr(member, content)


def _npy_header(shape: tuple, descr: str = "|u1") -> bytes:
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {"descr": descr, "fortran_order": False, "shape": shape})
    return out.getvalue()


BAD_FILES = {  # case: what the one line must say
    "missing": "photo drawings not found",
    "truncated": "not a readable photo drawings file",
    "not-npz": "not a readable photo drawings file",
    "wrong-shape": "array 'drawings' has shape [16877, 27, 27]",
    "stale": "the drawings are stale",
    "no-labels": "not a photo drawings file (no named)",
    "folder": "not a file",
    "npy": "holds a single numpy array (.npy), not a photo drawings file (.npz)",
    "bad-deflate": "Error -3 while decompressing data",
    "huge-shape": "array 'drawings' declares shape [100000000000, 28, 28], more than a photo drawings file holds",
    "bomb": "array 'drawings' has data past its end",
    "oversize": "larger than any photo drawings file",
    "uint16": "array 'drawings' holds uint16 values, expected uint8",
    "no-categories": "array 'categories' is empty",
    "no-train": "no usable train drawings",
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_drawings_file_stops_training_with_one_line(invoke, fake_data, tmp_path, shipped, case):
    if case == "missing":
        path = tmp_path / "gone.npz"
    elif case == "truncated":
        path = tmp_path / "cut.npz"
        path.write_bytes(photos.DRAWINGS.read_bytes()[:200_000])
    elif case == "not-npz":
        path = tmp_path / "text.npz"
        path.write_text("drawings\n")
    elif case == "wrong-shape":
        path = _bad(tmp_path, shipped, drawings=shipped.drawings[:, :27, :27])
    elif case == "stale":
        path = _bad(tmp_path, shipped, pipeline=np.int64(images.PIPELINE_VERSION + 1))
    elif case == "no-labels":
        path = _bad(tmp_path, shipped)
        with np.load(path) as npz:
            kept = {k: npz[k] for k in npz.files if k != "named"}
        np.savez_compressed(path, **kept)
    elif case == "folder":
        path = tmp_path / "a-folder.npz"
        path.mkdir()
    elif case == "npy":  # np.load gives a bare array for it, not an archive of arrays
        path = tmp_path / "one.npy"
        np.save(path, shipped.drawings[:2])
    elif case == "bad-deflate":  # the drawings' compressed bytes start with an invalid deflate block: zlib.error
        path = _bad(tmp_path, shipped)
        with zipfile.ZipFile(path) as archive:
            at = archive.getinfo("drawings.npy").header_offset
        raw = bytearray(path.read_bytes())
        name_length, extra_length = struct.unpack("<HH", raw[at + 26 : at + 30])
        start = at + 30 + name_length + extra_length
        raw[start : start + 16] = b"\xff" * 16
        path.write_bytes(raw)
    elif case == "huge-shape":  # 78 TB declared in a few bytes: refused before anything is allocated
        path = _bad(tmp_path, shipped)
        _replace_member(path, "drawings", _npy_header((10**11, 28, 28)) + bytes(784))
    elif case == "bomb":  # one drawing declared, 64 MB of zeros behind it (64 kB compressed): never inflated
        path = _bad(tmp_path, shipped)
        _replace_member(path, "drawings", _npy_header((1, 28, 28)) + bytes(64 * 2**20))
    elif case == "oversize":
        path = tmp_path / "big.npz"
        with open(path, "wb") as f:
            f.truncate(photos.MAX_FILE_BYTES + 1)  # sparse: no disk used
    elif case == "uint16":
        path = _bad(tmp_path, shipped, drawings=shipped.drawings.astype(np.uint16))
    elif case == "no-categories":
        path = _bad(tmp_path, shipped, categories=np.array([], dtype=str))
    else:  # every train photo drawn from the whole frame: nothing training could use
        path = _bad(tmp_path, shipped, found=shipped.found & (shipped.part != photos.TRAIN))
    out = tmp_path / "never.safetensors"
    result = invoke("train", "--data-dir", str(fake_data), "--photos", str(path), "--epochs", "1", "--out", str(out))
    assert result.exit_code == ExitCode.DATA == 3, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and str(path) in lines[0] and "Traceback" not in result.stderr, result.stderr
    assert BAD_FILES[case] in lines[0], lines[0]
    assert "--no-photos" in lines[0], "the line says how to go on"
    assert not out.exists()
    with pytest.raises(DataError, match=re.escape(BAD_FILES[case])):
        photos.load(path)


def test_resuming_a_run_without_photos_refuses_photos(invoke, trained, fake_data, tmp_path, monkeypatch):
    out = tmp_path / "more.safetensors"
    result = invoke(
        "train",
        "--resume",
        str(trained),
        "--photos",
        str(photos.DRAWINGS),
        "--epochs",
        "2",
        "--out",
        str(out),
        "--data-dir",
        str(fake_data),
    )
    assert result.exit_code == ExitCode.USAGE == 2, result.stderr
    assert (
        f"{trained}: was trained without photo drawings; a resumed run keeps that (leave out --photos)" in result.stderr
    )
    assert not out.exists()
    monkeypatch.setenv("HOME", str(tmp_path))  # --photos ~/... is the home folder's, like --out and --resume
    home = invoke("train", "--photos", "~/mine.npz", "--data-dir", str(fake_data), "--out", str(out))
    assert home.exit_code == 3 and f"{tmp_path / 'mine.npz'}: photo drawings not found" in home.stderr, home.stderr


def test_training_without_photos_or_teacher_says_so(invoke, fake_data, tmp_path):
    out = tmp_path / "plain.safetensors"
    result = invoke(
        "train", "--data-dir", str(fake_data), "--no-photos", "--no-teacher", "--epochs", "1", "--out", str(out)
    )
    assert result.exit_code == 0, result.stderr
    assert "Without photo drawings (--no-photos)" in result.stderr
    assert "Without the teachers (--no-teacher)" in result.stderr
    meta = read_checkpoint(out).metadata
    assert meta["photo_samples"] == 0 and meta["recipe"]["photo_share"] == 0.0 and meta["recipe"]["teacher_epochs"] == 0
    both = invoke(
        "train",
        "--data-dir",
        str(fake_data),
        "--no-photos",
        "--photos",
        str(photos.DRAWINGS),
        "--out",
        str(tmp_path / "x.safetensors"),
    )
    assert both.exit_code == 2 and "contradict" in both.stderr
    both = invoke(
        "train",
        "--data-dir",
        str(fake_data),
        "--no-teacher",
        "--teacher",
        "t.npz",
        "--out",
        str(tmp_path / "x.safetensors"),
    )
    assert both.exit_code == 2 and "--teacher and --no-teacher contradict" in both.stderr
    missing = invoke(
        "train",
        "--data-dir",
        str(fake_data),
        "--teacher",
        str(tmp_path / "gone.npz"),
        "--out",
        str(tmp_path / "x.safetensors"),
    )
    assert missing.exit_code == 3 and f"{tmp_path / 'gone.npz'}: teacher targets not found" in missing.stderr
    assert not (tmp_path / "x.safetensors").exists()
    other = invoke("train", "--data-dir", str(fake_data), "--no-photos", "--epochs", "1", "--out", str(out), "--force")
    assert other.exit_code == 0 and "not these: they are learnt from their labels alone" in other.stderr, other.stderr
    assert read_checkpoint(out).metadata["recipe"]["teacher_epochs"] == 0, (
        "other images: the shipped answers do not fit"
    )


@needs_real_data
def test_two_epochs_on_a_real_slice_with_the_shipped_drawings_and_teacher(cli, tmp_path, shipped):
    from fashionnet.teacher import load_targets

    out = tmp_path / "photos.safetensors"
    proc = cli("train", "--limit", "3000", "--epochs", "2", "--out", str(out), "--json", "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["photo_drawings"] == len(shipped.training_set()[0])
    targets = load_targets()
    assert summary["test_accuracy"] > 0.5 and summary["teacher"]["test_accuracy"] == targets.test_accuracy
    meta = read_checkpoint(out).metadata
    assert meta["photo_samples"] == summary["photo_drawings"] and meta["teacher"]["epochs"] == targets.epochs
    assert not any(k.startswith("teacher.") for k in read_checkpoint(out).training), "the teacher's answers ship"
    assert targets.drawings_sha256 == teacher.drawings_digest(shipped.drawings), "made for the shipped drawings"
    assert len(CLASSES) == shipped.named.shape[1]


def test_the_photos_are_looked_for_beside_a_checkout_only(tmp_path, monkeypatch):
    """../shared/data/clothing-photos counts beside a source checkout; an installed package (no
    pyproject.toml above it, e.g. in site-packages) has only $FASHIONNET_PHOTOS."""
    from fashionnet import photos as photo_mod

    monkeypatch.delenv("FASHIONNET_PHOTOS", raising=False)
    shared = tmp_path / "shared" / "data" / "clothing-photos"
    shared.mkdir(parents=True)
    (shared / "labels.csv").write_text("image,label\n")
    root = tmp_path / "site-packages"
    monkeypatch.setattr(photo_mod, "__file__", str(root / "fashionnet" / "photos.py"))
    assert photo_mod.locate_photos() is None
    root.mkdir()
    (root / "pyproject.toml").write_text("")  # now a checkout
    assert photo_mod.locate_photos() == shared
    monkeypatch.setenv("FASHIONNET_PHOTOS", str(shared))
    (root / "pyproject.toml").unlink()
    assert photo_mod.locate_photos() == shared
