import json

import numpy as np
import pytest
import torch

from fashionnet import data
from fashionnet.errors import DataError
from tests.conftest import make_fake_fashion, write_idx


def test_reads_gzip_and_plain_idx(tmp_path):
    images = np.arange(2 * 28 * 28).reshape(2, 28, 28) % 256
    a = data.read_idx(write_idx(tmp_path / "a-idx3-ubyte.gz", images, 2051), data.IMAGE_MAGIC)
    b = data.read_idx(write_idx(tmp_path / "b-idx3-ubyte", images, 2051), data.IMAGE_MAGIC)
    assert a.shape == (2, 28, 28) and np.array_equal(a, images) and np.array_equal(b, images)


def test_truncated_gzip_names_the_file(tmp_path):
    path = write_idx(tmp_path / "x-idx3-ubyte.gz", np.zeros((50, 28, 28)), 2051)
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(DataError, match=r"x-idx3-ubyte.gz: corrupt or truncated gzip"):
        data.read_idx(path, data.IMAGE_MAGIC)


def test_truncated_payload_and_wrong_magic(tmp_path):
    path = write_idx(tmp_path / "y-idx3-ubyte", np.zeros((5, 28, 28)), 2051)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="y-idx3-ubyte: truncated or padded"):
        data.read_idx(path, data.IMAGE_MAGIC)
    labels = write_idx(tmp_path / "z-idx1-ubyte", np.zeros(100), 2049)
    with pytest.raises(DataError, match="not an IDX image file"):
        data.read_idx(labels, data.IMAGE_MAGIC)
    (tmp_path / "tiny").write_bytes(b"\x00\x00")
    with pytest.raises(DataError, match="tiny: truncated IDX file"):
        data.read_idx(tmp_path / "tiny", data.LABEL_MAGIC)


def test_lookup_order(tmp_path, monkeypatch):
    explicit = make_fake_fashion(tmp_path / "explicit", 20, 10)
    env = make_fake_fashion(tmp_path / "env", 20, 10)
    cache = make_fake_fashion(tmp_path / "xdg" / "fashionnet" / "FashionMNIST", 20, 10)
    debian = make_fake_fashion(tmp_path / "debian", 20, 10)
    monkeypatch.setattr(data, "DEBIAN_DIR", debian)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("FASHIONNET_DATA", str(env))
    assert data.locate(explicit).folder == explicit
    assert data.locate().folder == env
    monkeypatch.delenv("FASHIONNET_DATA")
    assert data.locate().folder == cache
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty"))
    assert data.locate().folder == debian


def test_torchvision_download_layout_is_found(tmp_path):
    folder = make_fake_fashion(tmp_path / "root" / "FashionMNIST" / "raw", 20, 10)
    assert data.locate(tmp_path / "root").folder == tmp_path / "root"
    split = data.load_split("test", tmp_path / "root")
    assert split.images.shape == (10, 28, 28) and folder.exists()


def test_explicit_folder_without_data_is_an_error(tmp_path, no_system_data):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="incomplete .*missing train-images-idx3-ubyte"):
        data.locate(tmp_path / "empty")
    with pytest.raises(DataError, match="no such folder"):
        data.locate(tmp_path / "nowhere")


def test_missing_data_message_lists_the_ways_to_get_it(no_system_data):
    with pytest.raises(DataError) as info:
        data.require()
    message = str(info.value)
    assert "apt-get install dataset-fashion-mnist" in message
    assert "--download" in message and "--data-dir" in message and "FASHIONNET_DATA" in message


def test_load_split_tensors(fake_data):
    split = data.load_split("train", fake_data, limit=50)
    assert split.images.dtype == torch.uint8 and split.images.shape == (50, 28, 28)
    assert split.labels.dtype == torch.int64 and split.labels.shape == (50,)


def test_data_command_reports_counts(invoke, fake_data):
    result = invoke("data", "--data-dir", str(fake_data), "--json")
    report = json.loads(result.stdout)
    assert report["counts"]["train"]["total"] == 600
    assert report["counts"]["test"]["per_class"] == [1000] * 10
    # 600 training images is not the official 60,000: reported, exit 3
    assert report["complete"] is False and result.exit_code == 3
    assert report["problems"] == ["train: 600 samples, the official split has 60,000"]


def test_data_command_missing_is_exit_3(invoke, no_system_data):
    result = invoke("data")
    assert result.exit_code == 3
    assert "FashionMNIST not found" in result.stderr and "Traceback" not in result.stderr


def test_corrupt_data_is_one_line(cli, tmp_path):
    folder = make_fake_fashion(tmp_path / "broken", 20, 10)
    bad = folder / "t10k-images-idx3-ubyte.gz"
    bad.write_bytes(bad.read_bytes()[:30])
    proc = cli("evaluate", "--data-dir", str(folder), "--weights", "random")
    err = proc.stderr.decode()
    assert proc.returncode == 3, err
    assert "t10k-images-idx3-ubyte.gz" in err and "Traceback" not in err
    assert err.strip().count("\n") == 0


def test_data_dir_that_is_a_file(invoke, tmp_path):
    (tmp_path / "file").write_text("x")
    result = invoke("data", "--data-dir", str(tmp_path / "file"))
    assert result.exit_code == 3 and "is a file, not a folder (given by --data-dir)" in result.stderr


def test_environment_variable_is_named_as_such(invoke, tmp_path, monkeypatch):
    monkeypatch.setenv("FASHIONNET_DATA", str(tmp_path / "nowhere"))
    result = invoke("data")
    assert result.exit_code == 3 and "given by $FASHIONNET_DATA" in result.stderr


def test_the_cache_folder_follows_the_xdg_rules(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data.cache_dir() == tmp_path / "xdg" / "fashionnet" / "FashionMNIST"
    for ignored in ("", "relative/cache"):  # unset, or not absolute: the XDG rules say ~/.cache
        monkeypatch.setenv("XDG_CACHE_HOME", ignored)
        assert data.cache_dir() == tmp_path / ".cache" / "fashionnet" / "FashionMNIST"
