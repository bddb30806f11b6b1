"""Which gate each test module of the go-live suites feeds: the one table that says what a GO
rests on. Every module `golive validate` runs feeds exactly one gate
(tests/reports/test_gate_map.py collects the suites and keeps this table and them equal), so a
failing test anywhere moves a gate, and a test that did not run leaves its gate MISSING unless it
skipped for a declared n/a reason.

Modules are dotted and relative to the suites folder, as golive.core.junit.Case names them.
"""

from __future__ import annotations

from golive.core.junit import DEPLOYMENT_NA

GATE_OF_MODULE: dict[str, str] = {
    "contract.test_envelope": "envelope",
    "contract.test_internal_errors": "envelope",
    "contract.test_request_id": "envelope",
    "api.test_account_changes": "api",
    "api.test_agent_metrics": "api",
    "api.test_auth": "api",
    "api.test_content": "api",
    "api.test_cors": "api",
    # The Health gate is health.json's: what validate's health stage saw before any suite ran.
    "api.test_health": "api",
    "spec.test_migration_guide": "guide",
    "realtime.test_backend_pusher": "realtime",
    "realtime.test_legacy_websocket": "realtime",
    "realtime.test_pusher_js": "realtime",
    "security.test_hostile_input": "security",
    "security.test_schemathesis": "security",
    "security.test_secrets": "security",
    # An empty bucket that a path's spelling gets past is the limiter failing, not the input parser.
    "security.test_rate_limit_bypass": "rate-limiting",
    "resilience.test_rate_limit": "rate-limiting",
    "resilience.test_circuit_breakers": "breakers",
    # No bulkhead module of its own: its tests live with the resilience API's and guard the same
    # calls the breakers do.
    "resilience.test_resilience_api": "breakers",
    # Retries too: they are what makes idempotency keys matter.
    "resilience.test_idempotency": "idempotency",
    "resilience.test_interrupted_jobs": "idempotency",
}

# Skip reasons that make a test not applicable rather than not run: the report lists such a test
# as n/a with its reason, and it leaves its gate as it is.
NOT_APPLICABLE_REASONS: tuple[str, ...] = (DEPLOYMENT_NA,)


def gate_of(module: str) -> str | None:
    """The gate of a test's module (`module` may go on with a class: `api.test_auth.TestLogin`)."""
    while module:
        if module in GATE_OF_MODULE:
            return GATE_OF_MODULE[module]
        module = module.rpartition(".")[0]
    return None


def not_applicable(reason: str) -> bool:
    return reason.startswith(NOT_APPLICABLE_REASONS)
