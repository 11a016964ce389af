"""KPI drops against the local stack: partitions by KPI date, idempotent reloads, corrections, rejections, archive order."""

from __future__ import annotations

import re
import time
from datetime import date, timedelta
from typing import Any

import awswrangler as wr
import pytest

from pipelines.audit.gate import audit_and_switch
from pipelines.audit.quarantine import list_quarantined, release
from pipelines.config import BusinessKpiConfig, Config
from pipelines.demo.fleet import build_fleet
from pipelines.demo.fleet_stories import ERROR_BURST, LATENCY_INCIDENT
from pipelines.demo.seed_business_kpis import kpi_values, seed_kpi_drops
from pipelines.lake.catalog import ensure_lake
from pipelines.lake.staging import discard, switch
from pipelines.sources.business_kpis.inbox import Inbox, iter_inbox_files
from pipelines.sources.business_kpis.landing import finish_business_kpis, land_business_kpis
from pipelines.sources.landing import Landing
from tests.integration.lakehelpers import BUCKET, make_config, new_lake, published

INBOX = f"s3://{BUCKET}/inbox/kpis/"
NIGHT = date(2025, 6, 4)
D1, D2 = "2025-06-02", "2025-06-03"
HEADER = "date,business_unit,kpi,value,unit\n"
DROP = HEADER + "".join(
    f"{day},{unit},{kpi},{value},{u}\n"
    for day in (D1, D2)
    for unit, revenue in (("Payments", 1000), ("Marketplace", 2000))
    for kpi, value, u in (("revenue", revenue, "USD"), ("orders", revenue // 10, "count"))
)


@pytest.fixture()
def lake(stack: Any) -> tuple[Config, Any]:
    config = make_config(stack.endpoint_url).model_copy(update={"business_kpis": BusinessKpiConfig(inbox=INBOX)})
    session = new_lake(config)
    ensure_lake(session, config.lake)
    return config, session


def put(session: Any, key: str, text: str) -> str:
    session.client("s3").put_object(Bucket=BUCKET, Key=f"inbox/kpis/{key}", Body=text.encode())
    return f"{INBOX}{key}"


def keys(session: Any, prefix: str) -> list[str]:
    found = wr.s3.list_objects(f"s3://{BUCKET}/{prefix}", boto3_session=session)
    return sorted(uri.removeprefix(f"s3://{BUCKET}/{prefix}") for uri in found)


def night(session: Any, config: Config, on: date = NIGHT, run_id: str = "r1") -> Landing:
    """What the nightly does for this source: land, publish every staged partition, finish."""
    landing = land_business_kpis(session, config, on, run_id)
    for staged in landing.staged:
        switch(session, config.lake, staged)
    finish_business_kpis(session, config, on)
    return landing


def values(session: Any, config: Config, dt: str) -> dict[tuple[str, str], float]:
    rows = published(session, config, "business_kpis", dt).to_pylist()
    assert len(rows) == len({(r["business_unit"], r["kpi_name"]) for r in rows}), "duplicate KPI rows"
    return {(r["business_unit"], r["kpi_name"]): r["value"] for r in rows}


def test_a_drop_lands_in_the_partitions_of_its_dates(lake: tuple[Config, Any]) -> None:
    config, session = lake
    uri = put(session, "2025-06-03.csv", DROP)
    landing = land_business_kpis(session, config, NIGHT, "r1")
    assert landing.source == "business_kpis" and not landing.rejections and not landing.errors
    assert [(s.table, s.dt, s.rows) for s in landing.staged] == [("business_kpis", D1, 4), ("business_kpis", D2, 4)]
    assert all(
        sorted(f.rsplit("/", 1)[1] for f in s.files) == ["part-marketplace.parquet", "part-payments.parquet"]
        for s in landing.staged
    )
    assert keys(session, "inbox/kpis/") == ["2025-06-03.csv"], "a drop stays in the inbox until it is published"
    assert values(session, config, D1) == {}, "staging publishes nothing"

    for staged in landing.staged:
        switch(session, config.lake, staged)
    assert finish_business_kpis(session, config, NIGHT) == [f"s3://{BUCKET}/inbox/kpis_processed/2025-06-04/2025-06-03.csv"]
    assert keys(session, "inbox/kpis/") == []
    for dt in (D1, D2):
        assert values(session, config, dt) == {
            ("Payments", "revenue"): 1000,
            ("Payments", "orders"): 100,
            ("Marketplace", "revenue"): 2000,
            ("Marketplace", "orders"): 200,
        }
        rows = published(session, config, "business_kpis", dt).to_pylist()
        assert {r["source_uri"] for r in rows} == {uri} and {r["unit"] for r in rows} == {"USD", "count"}


def test_the_same_file_twice_gives_the_same_rows(lake: tuple[Config, Any]) -> None:
    config, session = lake
    put(session, "drop.csv", DROP)
    night(session, config)
    before = {dt: values(session, config, dt) for dt in (D1, D2)}
    time.sleep(1.1)  # S3 LastModified has whole seconds: the re-drop is a newer arrival
    put(session, "drop.csv", DROP)
    again = night(session, config, NIGHT + timedelta(days=1), "r2")
    assert [s.dt for s in again.staged] == [D1, D2]
    assert {dt: values(session, config, dt) for dt in (D1, D2)} == before
    assert keys(session, "inbox/kpis/") == []
    assert keys(session, "inbox/kpis_processed/") == ["2025-06-04/drop.csv", "2025-06-05/drop.csv"]


def test_a_drop_left_in_the_inbox_after_publishing_is_not_loaded_again(lake: tuple[Config, Any]) -> None:
    """A crash between publish and finish: the next night sees the drop is published and only archives it."""
    config, session = lake
    put(session, "drop.csv", DROP)
    for staged in land_business_kpis(session, config, NIGHT, "r1").staged:
        switch(session, config.lake, staged)
    before = published(session, config, "business_kpis", D1)
    landing = land_business_kpis(session, config, NIGHT + timedelta(days=1), "r2")
    assert landing.staged == [] and landing.counts["files_archived"] == 1
    assert published(session, config, "business_kpis", D1).equals(before)
    assert keys(session, "inbox/kpis_processed/") == ["2025-06-05/drop.csv"]


def test_a_correction_replaces_one_business_unit_on_one_day(lake: tuple[Config, Any]) -> None:
    config, session = lake
    put(session, "drop.csv", DROP)
    night(session, config)
    d2_location = wr.s3.list_objects(f"s3://{BUCKET}/lake/business_kpis/dt={D2}/", boto3_session=session)
    # S3's LastModified has whole seconds; within one second the key decides ("fix-" sorts after "drop.").
    correction = put(session, "fix-payments.csv", HEADER + f'{D1},Payments,revenue,"1,250.50",USD\n')
    landing = night(session, config, NIGHT + timedelta(days=1), "r2")
    assert [s.dt for s in landing.staged] == [D1], "only the corrected day is restaged"
    assert values(session, config, D1) == {
        ("Payments", "revenue"): 1250.5,  # the unit's day is replaced as a whole
        ("Marketplace", "revenue"): 2000,
        ("Marketplace", "orders"): 200,
    }
    rows = {r["business_unit"]: r["source_uri"] for r in published(session, config, "business_kpis", D1).to_pylist()}
    assert rows["Payments"] == correction and rows["Marketplace"] == f"{INBOX}drop.csv"
    assert values(session, config, D2)[("Payments", "revenue")] == 1000
    assert wr.s3.list_objects(f"s3://{BUCKET}/lake/business_kpis/dt={D2}/", boto3_session=session) == d2_location


def test_within_a_night_the_later_drop_wins(lake: tuple[Config, Any]) -> None:
    config, session = lake
    put(session, "a.csv", HEADER + f"{D1},Payments,revenue,1,USD\n{D1},Growth,revenue,5,USD\n")
    put(session, "b.csv", HEADER + f"{D1},Payments,revenue,2,USD\n")  # same second or later, and a later key
    landing = night(session, config)
    assert landing.counts["unit_files"] == 2
    assert values(session, config, D1) == {("Payments", "revenue"): 2, ("Growth", "revenue"): 5}
    assert keys(session, "inbox/kpis/") == []


def test_an_older_drop_retried_later_never_overwrites_a_newer_one(lake: tuple[Config, Any]) -> None:
    """a.csv's D1 is held back (as by a quarantine) while the newer b.csv publishes D2; retrying a.csv must not undo b.csv."""
    config, session = lake
    put(session, "a.csv", HEADER + f"{D1},Payments,revenue,1,USD\n{D2},Payments,revenue,1,USD\n")
    put(session, "b.csv", HEADER + f"{D2},Payments,revenue,2,USD\n")
    first = land_business_kpis(session, config, NIGHT, "r1")
    held, passed = first.staged
    discard(session, held)
    switch(session, config.lake, passed)
    finish_business_kpis(session, config, NIGHT)
    assert keys(session, "inbox/kpis/") == ["a.csv"], "a.csv is not fully published yet"

    retry = night(session, config, NIGHT + timedelta(days=1), "r2")
    assert [s.dt for s in retry.staged] == [D1]
    assert values(session, config, D1) == {("Payments", "revenue"): 1}
    assert values(session, config, D2) == {("Payments", "revenue"): 2}
    assert keys(session, "inbox/kpis/") == []


def test_a_bad_file_is_rejected_and_moved_aside_while_the_others_land(lake: tuple[Config, Any]) -> None:
    config, session = lake
    put(session, "good.csv", DROP)
    bad = put(session, "team/bad.csv", HEADER + f"{D1},Growth,revenue,10,USD\n{D1},Growth,orders,abc,count\n")
    put(session, "notes.txt", "see the CSV")
    landing = night(session, config)
    reasons = {r["source_uri"]: r["reason"] for r in landing.rejections}
    assert reasons == {
        bad: f"{bad} row 3 column value: 'abc' is not a number",
        f"{INBOX}notes.txt": f"{INBOX}notes.txt: not a CSV or Parquet file (expected .csv, .parquet, .pq)",
    }
    row = next(r for r in landing.rejections if r["source_uri"] == bad)
    assert row["source"] == "business_kpis" and row["size_bytes"] > 0 and row["account_id"] is None
    assert keys(session, "inbox/kpis_rejected/") == [
        "notes.txt",
        "notes.txt.reason.txt",
        "team/bad.csv",
        "team/bad.csv.reason.txt",
    ]
    reason = (
        session.client("s3").get_object(Bucket=BUCKET, Key="inbox/kpis_rejected/team/bad.csv.reason.txt")["Body"].read().decode()
    )
    assert reason.strip() == reasons[bad]
    assert keys(session, "inbox/kpis/") == []
    assert ("Growth", "revenue") not in values(session, config, D1) and ("Payments", "revenue") in values(session, config, D1)


def test_a_day_outside_the_window_rejects_its_file_while_late_corrections_and_the_others_land(
    lake: tuple[Config, Any],
) -> None:
    """A typo'd year (after every night, or a century back) refuses its whole file naming row and column; a correction
    of a day months back lands, and so does a day after the night that has ended (a backfill's first night takes them)."""
    config, session = lake
    put(session, "good.csv", DROP)
    put(session, "late.csv", HEADER + "2024-12-31,Payments,revenue,900,USD\n")  # a correction 155 days back
    put(session, "ahead.csv", HEADER + "2025-06-20,Payments,revenue,1100,USD\n")  # after the night, before today
    future = put(
        session,
        "future.csv",
        HEADER + f"{D1},Growth,revenue,1,USD\n{D1},Growth,orders,2,count\n2206-01-01,Growth,revenue,3,USD\n",
    )
    past = put(session, "past.csv", HEADER + "1926-01-01,Growth,revenue,4,USD\n")
    landing = night(session, config)
    reasons = {r["source_uri"]: r["reason"] for r in landing.rejections}
    assert set(reasons) == {future, past}
    assert re.fullmatch(
        rf"{re.escape(future)} row 4 column date: 2206-01-01 is after \d{{4}}-\d{{2}}-\d{{2}}, the last day \(UTC\) "
        "that had ended when the file was landed",
        reasons[future],
    ), reasons[future]  # the night is an old one: its bound is the day before landing (the wall clock's)
    assert (
        reasons[past] == f"{past} row 2 column date: 1926-01-01 is more than 366 days before the night being landed (2025-06-04)"
    )
    assert keys(session, "inbox/kpis_rejected/") == ["future.csv", "future.csv.reason.txt", "past.csv", "past.csv.reason.txt"]
    assert keys(session, "inbox/kpis/") == []
    assert sorted(s.dt for s in landing.staged) == ["2024-12-31", D1, D2, "2025-06-20"]
    assert values(session, config, "2024-12-31") == {("Payments", "revenue"): 900}
    assert values(session, config, "2025-06-20") == {("Payments", "revenue"): 1100}
    assert all(unit != "Growth" for unit, _ in values(session, config, D1)), "no row of a refused file lands"


def test_a_quarantined_day_keeps_its_drop_in_the_inbox_until_released(lake: tuple[Config, Any]) -> None:
    config, session = lake
    put(session, "drop.csv", HEADER + f"{D1},Growth,conversion_rate,12.5,percent\n")  # a percentage sent as a ratio
    landing = land_business_kpis(session, config, NIGHT, "r1")
    outcome = audit_and_switch(session, config, landing.staged[0], NIGHT.isoformat())
    assert outcome.quarantined and any("ratio_kpis" in name for name in outcome.report.failed_names())
    assert finish_business_kpis(session, config, NIGHT) == []
    assert keys(session, "inbox/kpis/") == ["drop.csv"], "the drop waits for a decision"
    assert values(session, config, D1) == {}

    release(session, config.lake, list_quarantined(session, config.lake, "business_kpis")[0])
    assert values(session, config, D1) == {("Growth", "conversion_rate"): 12.5}
    assert len(finish_business_kpis(session, config, NIGHT + timedelta(days=1))) == 1
    assert keys(session, "inbox/kpis/") == []


def test_demo_drops_night_by_night_show_a_restatement_and_a_rejection(lake: tuple[Config, Any]) -> None:
    config, session = lake
    fleet = build_fleet(seed=7, days=14)
    incident = next(s.start.date() for s in fleet.stories if s.kind == LATENCY_INCIDENT)
    burst = next(s.start.date() for s in fleet.stories if s.kind == ERROR_BURST)
    rejected = []
    for day in (burst, incident, incident + timedelta(days=1), incident + timedelta(days=2)):
        seed_kpi_drops(session, INBOX, fleet, [day])
        landing = night(session, config, day, f"r-{day}")
        rejected += [r["source_uri"] for r in landing.rejections]
        if day == incident:
            early = values(session, config, day.isoformat())[("Payments", "fraud_losses")]
    assert rejected == [f"{INBOX}{burst}.growth-manual.csv"]
    restated = values(session, config, incident.isoformat())
    assert restated[("Payments", "fraud_losses")] == kpi_values(fleet, "Payments", incident)["fraud_losses"] > early
    assert len(restated) == 12 and keys(session, "inbox/kpis/") == []


def test_the_inbox_is_listed_page_by_page_without_its_sidecars(lake: tuple[Config, Any]) -> None:
    config, session = lake
    for name in ("a.csv", "b.csv", "sub/c.csv", "sub/d.parquet", "e.csv"):
        put(session, name, DROP)
    session.client("s3").put_object(Bucket=BUCKET, Key="inbox/kpis/sub/", Body=b"")  # a console "folder"
    session.client("s3").put_object(Bucket=BUCKET, Key="inbox/kpis_rejected/x.csv", Body=b"")
    s3 = session.client("s3")
    pages = []
    s3.meta.events.register("after-call.s3.ListObjectsV2", lambda **kwargs: pages.append(1))
    files = list(iter_inbox_files(s3, Inbox.from_uri(INBOX), page_size=2))
    assert [f.key for f in files] == ["a.csv", "b.csv", "e.csv", "sub/c.csv", "sub/d.parquet"]
    assert len(pages) >= 3 and all(f.size == len(DROP) and f.last_modified.tzinfo for f in files)


def test_hostile_names_in_a_drop_land_as_data_and_stay_inside_the_lake(lake: tuple[Config, Any]) -> None:
    """Business units a file chooses are values: quotes, ../, %, newlines, very long and non-ASCII names land verbatim,
    write no key outside the table's partitions, and a query with a quoted literal finds each. KPI names must be
    identifiers: a file with a hostile one is refused naming its row and column, and the other file still lands."""
    import csv
    import io

    from pipelines.query.local import LocalLakeEngine

    config, session = lake
    hostile = ["O'Brien's unit", "../../_quarantine", "100% of %s", "line\nbreak", "Zahlungsverkehr 支付", "u" * 300]

    def drop(name: str, rows: list[tuple[str, str, int]]) -> None:
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(["date", "business_unit", "kpi", "value", "unit"])
        writer.writerows([(D1, unit, kpi, value, "count") for unit, kpi, value in rows])
        put(session, name, text.getvalue())

    drop("hostile-units.csv", [(unit, f"kpi_{i}", i) for i, unit in enumerate(hostile)])
    drop("hostile-kpi.csv", [("Payments", "revenue'); DROP TABLE x; --", 1)])
    before = set(keys(session, ""))
    landing = night(session, config)
    [refused] = landing.rejections
    assert refused["source_uri"].endswith("hostile-kpi.csv") and "row 2 column kpi" in refused["reason"]
    assert values(session, config, D1) == {(unit, f"kpi_{i}"): float(i) for i, unit in enumerate(hostile)}
    written = set(keys(session, "")) - before
    assert written and all(k.startswith(("lake/business_kpis/dt=", "inbox/kpis_")) for k in written), written
    assert all(re.fullmatch(r"[A-Za-z0-9_./=-]{1,400}", k) for k in written), written  # names slugged into keys
    engine = LocalLakeEngine(session, config.lake)
    for i, unit in enumerate(hostile):
        literal = unit.replace("'", "''")
        found = engine.run(f"SELECT kpi_name FROM business_kpis WHERE business_unit = '{literal}'").to_pylist()
        assert found == [{"kpi_name": f"kpi_{i}"}]
