"""The dependency audit: pip-audit over the installed environment, read back and summed up in a
few lines a reviewer can act on. Exit 1 when a dependency has a known vulnerability; a dependency
pip-audit could not look up is listed as not audited (never counted as clean).

    .venv/bin/python -m golive.audit
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

TIMEOUT_SECONDS = 600


@dataclass
class Audit:
    vulnerable: list[str] = field(default_factory=list)  # "name version: ID (fix: ...)"
    audited: list[str] = field(default_factory=list)
    not_audited: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.vulnerable else 0

    def lines(self) -> list[str]:
        total = len(self.audited) + len(self.not_audited)
        found = len(self.vulnerable)
        lines = [f"audited {len(self.audited)} of {total} dependencies; {found} known vulnerabilities"]
        lines += [f"  VULNERABLE {entry}" for entry in self.vulnerable]
        if self.not_audited:
            lines.append(
                f"  not audited ({len(self.not_audited)}): no vulnerability data reachable for them, "
                f"e.g. {', '.join(self.not_audited[:5])}"
            )
        return lines


def read(report: dict[str, Any]) -> Audit:
    """pip-audit's `--format json` document."""
    audit = Audit()
    for dependency in report.get("dependencies", []):
        name = f"{dependency.get('name')} {dependency.get('version', '')}".strip()
        if "skip_reason" in dependency:
            audit.not_audited.append(name)
            continue
        audit.audited.append(name)
        for vulnerability in dependency.get("vulns", []):
            fixes = ", ".join(vulnerability.get("fix_versions", [])) or "none yet"
            audit.vulnerable.append(f"{name}: {vulnerability.get('id')} (fixed in: {fixes})")
    return audit


def main() -> int:
    command = [
        sys.executable,
        "-m",
        "pip_audit",
        "--skip-editable",
        "--progress-spinner",
        "off",
        "--format",
        "json",
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False)
    try:
        audit = read(json.loads(completed.stdout))
    except ValueError:
        reason = completed.stderr.strip()[-500:]
        print(f"audit: pip-audit gave no report (exit {completed.returncode}): {reason}")
        return 2
    print("\n".join(audit.lines()))
    return audit.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
