"""What a `golive validate` runs: the suites, the drills and their data's size, the chaos subset,
the load profile; quick or full, and focused on some gates (`--gate`). A plain value, chosen and
checked before anything starts (a command refused for its arguments imports no stage)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace

from golive.core.junit import API, CONTRACT, GUIDE, REALTIME, RESILIENCE, SECURITY, Suite
from golive.drills.sizes import Sizes
from golive.reports.gate_map import GATE_OF_MODULE
from golive.reports.gates import CHAOS_STAGE, GATES, HEALTH_STAGE, LOAD_STAGE, drill_stage

# Each has a gate of its own (reports/gates.py).
DRILLS = ("migration", "rollback", "flags", "backup")


@dataclass(frozen=True)
class Plan:
    """What a validation runs: --quick for a few minutes on a small machine, or the full one."""

    mode: str
    suites: tuple[Suite, ...]
    drills: tuple[str, ...]
    drill_sizes: Sizes
    chaos_tag: str | None  # None: the whole library
    load_profile: str
    # What runs besides the suites and drills; a plan focused on some gates leaves out what
    # none of them judges.
    health: bool = True
    chaos: bool = True
    load: bool = True
    gates: tuple[str, ...] | None = None  # focused on these (`--gate`); None: every gate

    @classmethod
    def for_mode(cls, quick: bool) -> Plan:
        if quick:
            return cls(
                "quick",
                # The resilience suite too: its breaker, idempotency and limiter tests feed gates
                # nothing else proves, so without it a quick GO could not be had.
                (CONTRACT, API, REALTIME, GUIDE, RESILIENCE, SECURITY),
                DRILLS,
                Sizes(users=200, content=2_000, agent_metrics=20),
                "fast",
                "smoke",
            )
        return cls(
            "full", (CONTRACT, API, REALTIME, GUIDE, RESILIENCE, SECURITY), DRILLS,
            Sizes(), None, "baseline",
        )  # fmt: skip

    @property
    def lane_work(self) -> int:
        """How many stages may run in lanes side by side: more lanes than that would idle."""
        return len(self.suites) + bool(self.drills) + self.chaos

    def focused(self, gates: Collection[str]) -> Plan:
        """Only what the gates judge: the test modules the gate map gives them (each suite cut
        down to those), and the stages each gate reads (reports/gates.py). Run the same way as in
        the whole validation, so each of these gates comes out as it would there; the others
        are reported as not part of the run, so such a validation is never GO."""
        chosen = [gate for gate in GATES if gate.id in gates]
        stages = frozenset().union(*(gate.stages for gate in chosen))
        suites = []
        for suite in self.suites:
            modules = sorted(
                module
                for module, gate in GATE_OF_MODULE.items()
                if gate in gates and module.partition(".")[0] in suite.paths
            )
            if modules:
                paths = tuple(f"{module.replace('.', '/')}.py" for module in modules)
                suites.append(replace(suite, paths=paths))
        return replace(
            self,
            suites=tuple(suites),
            drills=tuple(drill for drill in self.drills if drill_stage(drill) in stages),
            health=HEALTH_STAGE in stages,
            chaos=CHAOS_STAGE in stages,
            load=LOAD_STAGE in stages,
            gates=tuple(gate.id for gate in chosen),
        )
