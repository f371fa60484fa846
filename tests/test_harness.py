"""The harness itself: every real service a test may ask for is really there."""

import json

from sqlalchemy import text

from shared.db import Database


async def test_each_test_gets_a_migrated_database_of_its_own(database_url: str) -> None:
    db = Database(database_url)
    async with db.session() as session:
        installations = (await session.execute(text("SELECT count(*) FROM installation"))).scalar()
    await db.dispose()
    assert installations == 1


async def test_single_nats_server_runs_jetstream(nats_server) -> None:
    nc = await nats_server.connect()
    info = json.loads((await nc.request("$JS.API.INFO", b"", timeout=2)).data)
    await nc.close()
    assert info["type"] == "io.nats.jetstream.api.v1.account_info_response"


async def test_cluster_has_three_servers_answering_the_system_account(nats_cluster) -> None:
    nc = await nats_cluster.connect(system=True)
    replies = []
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    await nc.publish("$SYS.REQ.SERVER.PING.JSZ", b"{}", reply=inbox)
    for _ in range(3):
        replies.append(json.loads((await sub.next_msg(timeout=3)).data))
    await nc.close()
    assert sorted(r["server"]["name"] for r in replies) == ["n1", "n2", "n3"]
