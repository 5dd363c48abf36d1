"""The Redis side of the jobs: imported only when REDIS_URL is set.

(Importing redis-py also imports the OpenTelemetry SDK when it is installed; an app without
REDIS_URL, or without tracing, pays for neither.)
"""

from collections.abc import AsyncGenerator
from typing import Any

from redis.asyncio import Redis
from taskiq import AckableMessage
from taskiq_redis import RedisStreamBroker


class ReclaimingStreamBroker(RedisStreamBroker):
    """taskiq-redis's stream broker, reclaiming a dead worker's jobs even when the queue is idle.

    A message is acknowledged only after its job finished (taskiq's default), so a worker killed
    mid-job leaves it pending; after `idle_timeout` another worker claims it with XAUTOCLAIM.
    Upstream claims only right after it read new messages, so on a quiet queue a lost job waited
    for unrelated traffic. Here every read round (at most `xread_block` ms) also claims.
    """

    async def listen(self) -> AsyncGenerator[AckableMessage, None]:
        async with Redis(connection_pool=self.connection_pool) as redis:
            while True:
                fetched = await redis.xreadgroup(
                    self.consumer_group_name,
                    self.consumer_name,
                    {self.queue_name: ">"},
                    block=self.block,
                    count=self.count,
                )
                # redis-py types replies loosely; XREADGROUP answers [[stream, [(id, fields)]]].
                streams: Any = fetched or []
                for _stream, messages in streams:
                    for message_id, fields in messages:
                        yield self._ackable(message_id, fields)
                # XAUTOCLAIM is atomic: of several workers, one gets each stale message.
                _cursor, claimed, _gone = await redis.xautoclaim(
                    self.queue_name,
                    self.consumer_group_name,
                    self.consumer_name,
                    min_idle_time=self.idle_timeout,
                    count=self.unacknowledged_batch_size,
                )
                for message_id, fields in claimed:
                    yield self._ackable(message_id, fields)

    def _ackable(self, message_id: bytes, fields: dict[bytes, bytes]) -> AckableMessage:
        return AckableMessage(
            data=fields[b"data"],
            ack=self._ack_generator(id=message_id.decode(), queue_name=self.queue_name),
        )
