"""Building the report of a run directory: report.html, summary.json, summary.md, junit.xml,
from the run directory alone (`golive report RUN_DIR` rebuilds them at any time).

Each file is replaced whole or not at all: a reader (CI, a dashboard) never finds half a
summary.json. A report that cannot be written (a full disk) is INCOMPLETE, with the reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from golive.core.load_regression import RULE, compare
from golive.core.rundir import write_atomically
from golive.reports.charts import steps_svg, timeline_svg
from golive.reports.evidence import Evidence
from golive.reports.gates import evaluate
from golive.reports.summary import Summary, junit, markdown, summarize

FILES = ("report.html", "summary.json", "summary.md", "junit.xml")


@dataclass(frozen=True)
class Report:
    summary: Summary
    paths: dict[str, Path]
    unwritten: str | None = None  # why the files are not (all) there


class NotARunDirectory(ValueError):
    pass


def build_report(run_dir: Path) -> Report:
    if not run_dir.is_dir():
        raise NotARunDirectory(f"{run_dir}: no such directory")
    if not (run_dir / "run.json").is_file():
        raise NotARunDirectory(f"{run_dir}: not a golive run directory (no run.json)")
    evidence = Evidence.read(run_dir)
    deployment = evidence.stack is not None and evidence.stack.deployment
    gates = evaluate(evidence, deployment)
    summary = summarize(evidence, gates, deployment)
    paths = {name: run_dir / name for name in FILES}
    try:
        # summary.json last: its presence says the others of this build are there too.
        write_atomically(paths["report.html"], render_html(summary, evidence))
        write_atomically(paths["summary.md"], markdown(summary))
        write_atomically(paths["junit.xml"], junit(summary, gates, evidence))
        write_atomically(paths["summary.json"], summary.model_dump_json(indent=2))
    except OSError as error:
        # Whatever the gates say, they were judged on a disk that could not even take the report.
        reason = f"the report could not be written: {error.strerror or error}"
        unwritten = summary.model_copy(
            update={"verdict": "INCOMPLETE", "reasons": [reason, *summary.reasons]}
        )
        return Report(unwritten, paths, reason)
    return Report(summary, paths)


def render_html(summary: Summary, evidence: Evidence) -> str:
    environment = Environment(
        loader=PackageLoader("golive.reports", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    template = environment.get_template("report.html.j2")
    migration = evidence.drills.get("migration")
    return template.render(
        summary=summary,
        evidence=evidence,
        load_regression=compare(evidence.load, evidence.load_baseline) if evidence.load else None,
        regression_rule=RULE,
        timeline_chart=Markup(timeline_svg(evidence.timeline)) if evidence.timeline else None,  # noqa: S704 - our own SVG, every text in it escaped
        steps_chart=Markup(steps_svg(migration)) if migration else None,  # noqa: S704 - as above
        environment_json=json.dumps(summary.environment, indent=2) if summary.environment else None,
    )
