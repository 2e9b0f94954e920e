"""`make build` refuses a build Lambda could not run: wrong machine, wrong CPython, boto3 in
the layer, an oversized layer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from local.aws_stack import load_template
from local.check_build import ELF_MACHINES, inspect_build, targets

TEMPLATE: dict[str, Any] = load_template()


def elf(machine: int) -> bytes:
    header = bytearray(b"\x7fELF\x02\x01\x01" + bytes(9))  # 64-bit, little-endian
    header += (3).to_bytes(2, "little") + machine.to_bytes(2, "little")
    return bytes(header) + bytes(44)


def built(tmp_path: Path, files: dict[str, bytes]) -> Path:
    """A build of every function of the template (an `app.py` each) plus `files`."""
    functions = {f"{t.logical_id}/app.py": b"" for t in targets(TEMPLATE) if not t.is_layer}
    for name, content in {**functions, **files}.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return tmp_path


def test_every_function_and_the_layer_target_python313_on_arm64() -> None:
    found = {target.logical_id: target for target in targets(TEMPLATE)}
    assert {"CrmsyncLayer", "HttpApiFunction"} <= set(found)
    assert all((t.architecture, t.python) == ("arm64", "313") for t in found.values())


def test_an_arm64_build_for_cpython313_passes(tmp_path: Path) -> None:
    build = built(
        tmp_path,
        {
            "CrmsyncLayer/python/cryptography/hazmat/bindings/_rust.abi3.so": elf(ELF_MACHINES["arm64"]),
            "CrmsyncLayer/python/lxml/etree.cpython-313-aarch64-linux-gnu.so": elf(ELF_MACHINES["arm64"]),
            "CrmsyncLayer/python/crmsync/__init__.py": b"",
        },
    )
    report = inspect_build(build, TEMPLATE)
    assert report.problems == []
    assert report.compiled_modules == 2


def test_x86_64_wheels_in_the_arm64_layer_are_refused(tmp_path: Path) -> None:
    build = built(
        tmp_path,
        {"CrmsyncLayer/python/cryptography/hazmat/bindings/_rust.abi3.so": elf(ELF_MACHINES["x86_64"])},
    )
    (problem,) = inspect_build(build, TEMPLATE).problems
    assert "_rust.abi3.so is compiled for x86_64, the function runs on arm64" in problem


def test_a_module_for_another_cpython_is_refused(tmp_path: Path) -> None:
    build = built(
        tmp_path,
        {"CrmsyncLayer/python/lxml/etree.cpython-311-aarch64-linux-gnu.so": elf(ELF_MACHINES["arm64"])},
    )
    (problem,) = inspect_build(build, TEMPLATE).problems
    assert "built for CPython 311, the runtime is CPython 313" in problem


def test_boto3_in_the_layer_is_refused(tmp_path: Path) -> None:
    build = built(tmp_path, {"CrmsyncLayer/python/boto3/__init__.py": b""})
    (problem,) = inspect_build(build, TEMPLATE).problems
    assert problem == "CrmsyncLayer ships boto3: the Lambda runtime provides it"


def test_a_missing_build_is_reported(tmp_path: Path) -> None:
    problems = inspect_build(tmp_path, TEMPLATE).problems
    assert any("CrmsyncLayer: not built" in problem for problem in problems)


def test_a_layer_over_60_mb_is_refused(tmp_path: Path) -> None:
    build = built(tmp_path, {"CrmsyncLayer/python/big/data.bin": b""})
    with (build / "CrmsyncLayer/python/big/data.bin").open("r+b") as sparse:
        sparse.truncate(61_000_000)
    (problem,) = inspect_build(build, TEMPLATE).problems
    assert problem == "CrmsyncLayer is 61.0 MB unzipped, over the 60.0 MB target"


def test_bytecode_of_another_python_is_refused(tmp_path: Path) -> None:
    build = built(
        tmp_path,
        {
            "CrmsyncLayer/python/crmsync/__pycache__/ports.cpython-313.pyc": b"",
            "CrmsyncLayer/python/crmsync/__pycache__/bootstrap.cpython-311.pyc": b"",
        },
    )
    report = inspect_build(build, TEMPLATE)
    assert report.bytecode_files == 2
    (problem,) = report.problems
    assert "bootstrap.cpython-311.pyc is bytecode for another Python" in problem
