from storage.repositories import IncidentRepository


async def test_migrated_database_stores_and_reads_an_incident(db):
    async with db.transaction() as session:
        row = await IncidentRepository(session).create(
            rule="slow-api",
            series_key="-",
            labels={},
            kind="metric",
            status="open",
            severity="warning",
            opened_at=1.0,
            rule_snapshot={},
            summary="",
            reopen_count=0,
            suppressed=False,
            test=False,
        )
    async with db.transaction() as session:
        again = await IncidentRepository(session).get(row.id)
    assert again is not None and again.rule == "slow-api"
