"""Demo KPI drops: deterministic, shaped by the fleet's stories, and readable by the inbox's own parser."""

from __future__ import annotations

import datetime as dt
import statistics

import pytest

from pipelines.demo.fleet import build_fleet
from pipelines.demo.fleet_stories import ERROR_BURST, LATENCY_INCIDENT
from pipelines.demo.seed_business_kpis import EARLY_FRAUD_ESTIMATE, kpi_drops, kpi_values
from pipelines.sources.business_kpis.inbox import RejectedDrop, read_csv
from pipelines.sources.business_kpis.table import business_kpis_parts

FLEET = build_fleet(seed=7, days=14)
UNITS = ("Payments", "Marketplace", "Growth")


def story_day(kind: str) -> dt.date:
    return next(s.start.date() for s in FLEET.stories if s.kind == kind)


def typical(unit: str, kpi: str, around: dt.date) -> float:
    """Median of the unit's KPI on the other weekdays of the fleet."""
    others = [d for d in FLEET.dates if d != around and d.weekday() < 5]
    return statistics.median(kpi_values(FLEET, unit, d)[kpi] for d in others)


def test_values_are_deterministic_from_the_seed() -> None:
    day = FLEET.dates[3]
    assert kpi_values(FLEET, "Payments", day) == kpi_values(build_fleet(seed=7, days=14), "Payments", day)
    assert kpi_values(FLEET, "Payments", day) != kpi_values(build_fleet(seed=8, days=14), "Payments", day)
    assert kpi_drops(FLEET) == kpi_drops(build_fleet(seed=7, days=14))


def test_fraud_losses_jump_on_the_latency_incident_day() -> None:
    day = story_day(LATENCY_INCIDENT)
    assert kpi_values(FLEET, "Payments", day)["fraud_losses"] > 2.5 * typical("Payments", "fraud_losses", day)
    assert kpi_values(FLEET, "Marketplace", day)["fraud_losses"] < 1.5 * typical("Marketplace", "fraud_losses", day)


def test_marketplace_dips_on_the_5xx_burst_day() -> None:
    day = story_day(ERROR_BURST)
    values = kpi_values(FLEET, "Marketplace", day)
    assert values["conversion_rate"] < 0.95 * typical("Marketplace", "conversion_rate", day)
    assert values["revenue"] < typical("Marketplace", "revenue", day)


def test_weekends_are_quieter() -> None:
    for unit in UNITS:
        weekend = [kpi_values(FLEET, unit, d)["revenue"] for d in FLEET.dates if d.weekday() >= 5]
        weekday = [kpi_values(FLEET, unit, d)["revenue"] for d in FLEET.dates if d.weekday() < 5]
        assert max(weekend) < min(weekday)


def test_drops_parse_except_the_hand_made_sheet() -> None:
    drops = kpi_drops(FLEET)
    incident = story_day(LATENCY_INCIDENT)
    assert [k for k, _ in drops if k.count(".") > 1] == [
        f"{story_day(ERROR_BURST)}.growth-manual.csv",
        f"{incident}.payments-restated.csv",
    ]
    loaded = dt.datetime(2025, 6, 20)
    parsed = {}
    for key, text in drops:
        uri = f"s3://demo/inbox/kpis/{key}"
        if key.endswith("growth-manual.csv"):
            with pytest.raises(RejectedDrop, match=r"row 2 column value: 'TBD' is not a number"):
                business_kpis_parts(read_csv(uri, text.encode()), uri, loaded)
            continue
        parsed[key] = business_kpis_parts(read_csv(uri, text.encode()), uri, loaded)
    daily = [parts for key, parts in parsed.items() if key.count(".") == 1]
    assert len(daily) == FLEET.days and all(len(parts) == 3 and all(p.table.num_rows == 4 for p in parts) for parts in daily)

    def fraud(key: str) -> float:
        payments = next(p for p in parsed[key] if p.business_unit == "Payments")
        return dict(zip(payments.table["kpi_name"].to_pylist(), payments.table["value"].to_pylist(), strict=True))["fraud_losses"]

    assert fraud(f"{incident}.csv") == pytest.approx(EARLY_FRAUD_ESTIMATE * fraud(f"{incident}.payments-restated.csv"), abs=0.01)


def test_days_select_what_is_dropped() -> None:
    assert [k for k, _ in kpi_drops(FLEET, 2)] == [f"{FLEET.dates[-2]}.csv", f"{FLEET.dates[-1]}.csv"]
    with pytest.raises(ValueError, match="outside the fleet's period"):
        kpi_drops(FLEET, [dt.date(2020, 1, 1)])
