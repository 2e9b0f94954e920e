"""Checks `sam build`'s output against what Lambda will run it on (`make build` runs this).

Plain `sam build` on an x86-64 machine happily copies x86-64 wheels into an arm64 function;
nothing fails until `cryptography` is imported in Lambda. This reads the ELF header of every
compiled module in the build and refuses the build when one is for another machine or another
CPython, when the layer carries boto3 (the runtime provides it), or when the layer is too big.

    python -m local.check_build [BUILD_DIR]
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.aws_stack import TEMPLATE, load_template

BUILD_DIR = Path(__file__).resolve().parent.parent / ".aws-sam" / "build"
LAYER_LIMIT_BYTES = 60_000_000
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")

# ELF e_machine values (System V ABI) and the names wheels use for the same machines.
ELF_MACHINES = {"arm64": 183, "x86_64": 62}
WHEEL_MACHINES = {"arm64": "aarch64", "x86_64": "x86_64"}
_EXTENSION_TAG = re.compile(r"\.cpython-(\d+)-([a-z0-9_]+)-linux-gnu\.so$")


@dataclass(frozen=True)
class Target:
    logical_id: str
    architecture: str  # arm64 | x86_64
    python: str  # "313"
    is_layer: bool


@dataclass
class BuildReport:
    sizes: dict[str, int] = field(default_factory=dict)
    compiled_modules: int = 0
    bytecode_files: int = 0
    problems: list[str] = field(default_factory=list)


def targets(template: dict[str, Any]) -> list[Target]:
    """What each built resource must run on, from the template (Globals included)."""
    function_globals = template.get("Globals", {}).get("Function", {})
    found = []
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            runtime = properties.get("Runtime", function_globals.get("Runtime", ""))
            architectures = properties.get("Architectures", function_globals.get("Architectures", ["x86_64"]))
            found.append(Target(logical_id, architectures[0], _python_tag(runtime), is_layer=False))
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            architecture = resource.get("Metadata", {}).get("BuildArchitecture", "x86_64")
            runtime = properties.get("CompatibleRuntimes", [""])[0]
            found.append(Target(logical_id, architecture, _python_tag(runtime), is_layer=True))
    return found


def inspect_build(build_dir: Path, template: dict[str, Any]) -> BuildReport:
    report = BuildReport()
    for target in targets(template):
        root = build_dir / target.logical_id
        if not root.is_dir():
            report.problems.append(f"{target.logical_id}: not built ({root} is missing)")
            continue
        files = [path for path in root.rglob("*") if path.is_file()]
        report.sizes[target.logical_id] = sum(path.stat().st_size for path in files)
        for path in files:
            if _is_elf(path):
                report.compiled_modules += 1
                report.problems.extend(_check_compiled(path, root, target))
            elif path.suffix == ".pyc":
                report.bytecode_files += 1
                if f".cpython-{target.python}." not in path.name:
                    report.problems.append(
                        f"{target.logical_id}: {path.relative_to(root)} is bytecode for another Python, "
                        f"the runtime is CPython {target.python}"
                    )
        if target.is_layer:
            report.problems.extend(_check_layer(root, target, report.sizes[target.logical_id]))
    return report


def _check_compiled(path: Path, root: Path, target: Target) -> list[str]:
    where = f"{target.logical_id}: {path.relative_to(root)}"
    machine = _elf_machine(path)
    expected = ELF_MACHINES[target.architecture]
    problems = []
    if machine != expected:
        built_for = {number: name for name, number in ELF_MACHINES.items()}.get(machine, f"machine {machine}")
        problems.append(f"{where} is compiled for {built_for}, the function runs on {target.architecture}")
    tag = _EXTENSION_TAG.search(path.name)
    if tag and tag.group(1) != target.python:
        problems.append(
            f"{where} is built for CPython {tag.group(1)}, the runtime is CPython {target.python}"
        )
    if tag and tag.group(2) != WHEEL_MACHINES[target.architecture]:
        problems.append(f"{where} is tagged {tag.group(2)}, the function runs on {target.architecture}")
    return problems


def _check_layer(root: Path, target: Target, size: int) -> list[str]:
    problems = []
    site = root / "python"
    for package in RUNTIME_PROVIDED:
        if (site / package).exists():
            problems.append(f"{target.logical_id} ships {package}: the Lambda runtime provides it")
    if size > LAYER_LIMIT_BYTES:
        limit = _megabytes(LAYER_LIMIT_BYTES)
        problems.append(f"{target.logical_id} is {_megabytes(size)} unzipped, over the {limit} target")
    return problems


def _python_tag(runtime: str) -> str:
    return runtime.removeprefix("python").replace(".", "")


def _is_elf(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == b"\x7fELF"


def _elf_machine(path: Path) -> int:
    with path.open("rb") as handle:
        header = handle.read(20)
    byte_order = "little" if header[5] == 1 else "big"  # EI_DATA
    return int.from_bytes(header[18:20], byte_order)  # e_machine


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def main(argv: list[str]) -> int:
    build_dir = Path(argv[0]) if argv else BUILD_DIR
    report = inspect_build(build_dir, load_template(TEMPLATE))
    for logical_id, size in sorted(report.sizes.items()):
        print(f"{logical_id:<24} {_megabytes(size):>10} unzipped")
    print(f"compiled modules checked: {report.compiled_modules}")
    print(f"precompiled bytecode files: {report.bytecode_files}")
    for problem in report.problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    if report.problems:
        return 1
    print("build matches the functions' architecture and runtime")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
