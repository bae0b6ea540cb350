"""Numba's on-disk cache keys a kernel's machine code on its own source file only, so a kernel that
called a compiled kernel of another file would keep stale code after that file changed. Every accel
kernel may call compiled kernels of its own module only."""

from __future__ import annotations

import importlib
import pkgutil
import types

import numba.core.registry

import accel


def _names(code: types.CodeType):
    """Every global name a code object and the code objects nested in it refer to."""
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _names(const)


def _kernels():
    for info in pkgutil.iter_modules(accel.__path__):
        module = importlib.import_module(f"accel.{info.name}")
        for value in vars(module).values():
            if isinstance(value, numba.core.registry.CPUDispatcher) and value.py_func.__module__ == module.__name__:
                yield value


def test_there_are_kernels_to_check():
    modules = {kernel.py_func.__module__ for kernel in _kernels()}
    assert {"accel.planar", "accel.nhwc", "accel.im2col", "accel.layout"} <= modules


def test_every_kernel_calls_only_kernels_of_its_own_file():
    crossing = []
    for kernel in _kernels():
        fn = kernel.py_func
        for name in set(_names(fn.__code__)):
            callee = fn.__globals__.get(name)
            if isinstance(callee, numba.core.registry.CPUDispatcher) and callee.py_func.__module__ != fn.__module__:
                crossing.append(f"{fn.__module__}.{fn.__name__} -> {callee.py_func.__module__}.{name}")
    assert crossing == []
