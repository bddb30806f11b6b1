"""The dependency audit's reading of pip-audit: vulnerable fails, not audited is said, never clean."""

from __future__ import annotations

from golive.audit import read

REPORT = {
    "dependencies": [
        {"name": "httpx", "version": "0.28.1", "vulns": []},
        {
            "name": "urllib3",
            "version": "1.26.0",
            "vulns": [{"id": "PYSEC-2021-59", "fix_versions": ["1.26.4"], "description": "..."}],
        },
        {
            "name": "alembic",
            "skip_reason": "Dependency not found on PyPI and could not be audited: alembic (1.20.1)",
        },
    ],
    "fixes": [],
}


def test_a_vulnerable_dependency_fails_the_audit_and_names_the_fix() -> None:
    audit = read(REPORT)
    assert audit.exit_code == 1
    assert audit.lines() == [
        "audited 2 of 3 dependencies; 1 known vulnerabilities",
        "  VULNERABLE urllib3 1.26.0: PYSEC-2021-59 (fixed in: 1.26.4)",
        "  not audited (1): no vulnerability data reachable for them, e.g. alembic",
    ]


def test_dependencies_that_could_not_be_looked_up_are_not_counted_as_clean() -> None:
    audit = read({"dependencies": [REPORT["dependencies"][2]]})
    assert audit.exit_code == 0
    assert audit.lines()[0] == "audited 0 of 1 dependencies; 0 known vulnerabilities"
    assert "not audited (1)" in audit.lines()[1]


def test_a_clean_environment_passes() -> None:
    audit = read({"dependencies": [REPORT["dependencies"][0]]})
    assert (audit.exit_code, audit.lines()) == (0, ["audited 1 of 1 dependencies; 0 known vulnerabilities"])
