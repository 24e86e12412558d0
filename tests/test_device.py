import pytest
import torch

from fashionnet.device import select_device
from fashionnet.errors import DeviceError, ExitCode


def test_cpu_and_auto_without_accelerator(monkeypatch):
    assert select_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.accelerator, "is_available", lambda: False)
    assert select_device("auto") == torch.device("cpu")
    assert select_device(None) == torch.device("cpu")


def test_auto_takes_the_current_accelerator(monkeypatch):
    monkeypatch.setattr(torch.accelerator, "is_available", lambda: True)
    monkeypatch.setattr(torch.accelerator, "current_accelerator", lambda: torch.device("cuda"))
    assert select_device("auto") == torch.device("cuda")


def test_environment_variable_is_the_default(monkeypatch):
    monkeypatch.setenv("FASHIONNET_DEVICE", "cpu")
    assert select_device(None) == torch.device("cpu")
    monkeypatch.setenv("FASHIONNET_DEVICE", "nonsense")
    with pytest.raises(DeviceError):
        select_device(None)
    assert select_device("cpu") == torch.device("cpu"), "an explicit option beats the variable"


@pytest.mark.parametrize("spec", ["tpu", "cuda:x", "cpu:1", "gpu", "", "cuda:-1"])
def test_unknown_devices_are_usage_errors(spec):
    with pytest.raises(DeviceError) as info:
        select_device(spec or " ")
    assert info.value.exit_code == ExitCode.USAGE


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("spec", ["cuda", "cuda:0", "CUDA:3"])
def test_missing_cuda_is_a_clear_error(spec):
    with pytest.raises(DeviceError, match="not available"):
        select_device(spec)


def test_index_beyond_device_count(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert select_device("cuda:0") == torch.device("cuda", 0)
    with pytest.raises(DeviceError, match="has 1 cuda"):
        select_device("cuda:1")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_runs_the_model():
    from fashionnet.model import build_model

    device = select_device("cuda")
    model = build_model(device=device)
    assert model(torch.rand(2, 28, 28, device=device)).device.type == "cuda"
