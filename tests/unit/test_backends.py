"""What a backend declares on its BackendInfo matches its module and the options."""

from __future__ import annotations

import dataclasses
import importlib

import pytest

from pytest_parscale.backends import zerocopy
from pytest_parscale.backends.base import (
    BACKENDS,
    BackendInfo,
    ZeroCopy,
    cluster_address,
    register,
)
from pytest_parscale.config import OPTIONS_BY_NAME, Settings, resolve


@pytest.mark.parametrize("info", BACKENDS.values(), ids=lambda info: info.name)
def test_a_declared_zero_copy_path_is_in_the_backends_module(info: BackendInfo) -> None:
    # the modules import their engines inside functions: loading them is cheap
    module = importlib.import_module(info.module)
    assert callable(module.start)
    if info.zero_copy.method is None:
        assert info.zero_copy.absent
        assert zerocopy.unsupported(info.name, [b"x"]) == info.zero_copy.absent
    else:
        assert callable(module.zero_copy_map)


@pytest.mark.parametrize(
    "info", [info for info in BACKENDS.values() if info.cluster_option], ids=lambda i: i.name
)
def test_a_declared_cluster_option_is_an_option_and_names_the_address(info: BackendInfo) -> None:
    assert info.cluster_option in OPTIONS_BY_NAME
    assert info.cluster_option in {field.name for field in dataclasses.fields(Settings)}
    settings = resolve({info.cluster_option: "tcp://127.0.0.1:1"}, {}, {})
    assert cluster_address(info.name, settings) == "tcp://127.0.0.1:1"
    assert cluster_address(info.name, Settings()) is None


def test_a_backend_without_a_cluster_option_is_always_embedded() -> None:
    assert cluster_address("pool", resolve({"ray_address": "127.0.0.1:1"}, {}, {})) is None
    assert cluster_address("not-registered", Settings()) is None


def test_register_adds_a_backend_and_refuses_a_different_one_of_the_same_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("pytest_parscale.backends.base.BACKENDS", dict(BACKENDS))
    from pytest_parscale.backends import base

    mine = BackendInfo("mine", "my_engine", zero_copy=ZeroCopy(absent="no path here"))
    register(mine)
    register(mine)  # the same again (a conftest imported twice) is fine
    assert base.BACKENDS["mine"] is mine
    assert zerocopy.unsupported("mine", [b"x"]) == "no path here"
    with pytest.raises(ValueError, match="'pool' is already registered"):
        register(BackendInfo("pool", "elsewhere"))


def test_shared_memory_takes_buffers_only() -> None:
    assert zerocopy.unsupported("pool", [b"x", bytearray(2)]) is None
    assert "item 1 is a list" in (zerocopy.unsupported("process", [b"x", [1]]) or "")
    assert zerocopy.unsupported("dask", [[1]]) is None
    assert "no zero-copy path is known" in (zerocopy.unsupported("nowhere", []) or "")
