"""Demo mode (`mode`) and the synthetic world it loads (`world`): what `make demo`, the
tests and the benchmarks use, never part of a real deployment's record."""

from casework.demo.mode import (
    DEMO_ALLEGATIONS,
    DEMO_CASE_REFERENCE,
    DEMO_PASSWORD,
    DEMO_USERS,
    ROLE_GROUPS,
    DemoError,
    DemoUser,
    demo_case_report,
    demo_counsel,
    demo_record_load,
    demo_scenario_ensure,
    demo_users_seed,
)

__all__ = [
    "DEMO_ALLEGATIONS",
    "DEMO_CASE_REFERENCE",
    "DEMO_PASSWORD",
    "DEMO_USERS",
    "ROLE_GROUPS",
    "DemoError",
    "DemoUser",
    "demo_case_report",
    "demo_counsel",
    "demo_record_load",
    "demo_scenario_ensure",
    "demo_users_seed",
]
