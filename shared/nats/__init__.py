"""The one NATS gateway: the only code that speaks `$JS.API` and `$SYS`.

spec = ConnectionSpec(servers=("nats://…",), auth=Auth(kind="user_password", …))
client = await backends.nats.client(cluster_key, spec)
info = await client.js("STREAM.INFO.ORDERS")
async for name in client.js_paged("STREAM.NAMES", "streams"): …
"""

from shared.nats.connection import Auth, ConnectionSpec, Tls
from shared.nats.gateway import ClusterClient, ConnectionPool, NatsApiError

__all__ = ["Auth", "ClusterClient", "ConnectionPool", "ConnectionSpec", "NatsApiError", "Tls"]
