"""The rules of ARCHITECTURE.md that a test can hold the code to."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = ROOT / "layers" / "crmsync" / "crmsync" / "domain"
ADAPTER_LIBRARIES = {"boto3", "botocore", "requests", "simple_salesforce", "aws_lambda_powertools"}


def imported_top_level_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_the_domain_core_imports_no_adapter_library() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_top_level_modules(path) & ADAPTER_LIBRARIES)
        for path in DOMAIN.rglob("*.py")
    }
    offenders = {path: libs for path, libs in offenders.items() if libs}
    assert offenders == {}, f"crmsync/domain must stay pure (ARCHITECTURE.md rule 1): {offenders}"


def test_the_rule_check_would_catch_an_offending_import(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text("import json\nfrom boto3.dynamodb import conditions\nimport simple_salesforce as sf\n")
    assert imported_top_level_modules(module) & ADAPTER_LIBRARIES == {"boto3", "simple_salesforce"}


def imports_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    env = {"PYTHONPATH": f"{ROOT / 'layers' / 'crmsync'}:{ROOT}", "PATH": "/usr/bin:/bin"}
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return set(output.stdout.split())


def test_the_http_entry_point_does_not_import_simple_salesforce_at_start() -> None:
    loaded = imports_after("import functions.http_api.app")
    assert "simple_salesforce" not in loaded
    assert "crmsync.salesforce.gateway" not in loaded


def test_importing_bootstrap_builds_nothing_and_reads_no_environment() -> None:
    loaded = imports_after("import crmsync.bootstrap")
    assert "boto3" not in loaded
    assert "simple_salesforce" not in loaded
