"""The taskiq broker: in this process by default, Redis streams when REDIS_URL is set."""

from collections.abc import AsyncGenerator
from typing import Any

from redis.asyncio import Redis
from taskiq import AckableMessage, AsyncBroker, InMemoryBroker
from taskiq_redis import RedisAsyncResultBackend, RedisStreamBroker

from settings import Settings


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


def create_broker(settings: Settings, *, inline: bool = False) -> AsyncBroker:
    """The broker `settings` ask for. `inline`: an embedded job runs before `enqueue` returns.

    Embedded (no REDIS_URL), jobs run as asyncio tasks of the process that enqueued them and
    results live in its memory: nothing else to install, nothing survives a restart.
    """
    if settings.redis_url is None:
        return InMemoryBroker(max_stored_results=1000, await_inplace=inline)
    prefix = settings.jobs_key_prefix
    broker = ReclaimingStreamBroker(
        settings.redis_url,
        queue_name=f"{prefix}:queue",
        consumer_group_name=f"{prefix}:workers",
        # "0": a worker's group also sees what was enqueued before any worker ever started.
        consumer_id="0",
        idle_timeout=int(settings.jobs_visibility_timeout_seconds * 1000),
        xread_block=1000,
    )
    backend: RedisAsyncResultBackend[object] = RedisAsyncResultBackend(
        settings.redis_url,
        result_ex_time=settings.jobs_result_ttl_seconds,
        prefix_str=f"{prefix}:result",
    )
    return broker.with_result_backend(backend)
