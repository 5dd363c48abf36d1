"""Fan-out of feed messages to the sockets of this process, and of every process through Redis.

Without Redis a message published here reaches this process's subscribers only (`make dev`,
one worker). With REDIS_URL every process publishes on Redis pub/sub and listens to it once
(one connection per process, however many sockets), so a socket held by one worker hears a
change committed by another worker, a job or another machine.

Pub/sub is fire-and-forget: a process that is not listening when a message is published (a
restart, a Redis outage) never gets it. Feeds are notifications, not a log; a client that
reconnects reads the current state over HTTP.
"""

import asyncio
import time
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import structlog

from core.redis import unavailable_errors
from settings import Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import PubSub

log = structlog.get_logger(__name__)

RECONNECT_SECONDS = (0.5, 1, 2, 5)  # between attempts to listen again, the last one repeated
# After a failed publish, messages are dropped this long without trying Redis (one warning): an
# outage costs each write nothing instead of a timeout.
PUBLISH_RETRY_SECONDS = 5.0


@dataclass(frozen=True)
class Message:
    channel: str
    owner_id: str | None  # the owner of the row it is about: only they (and admins) hear it
    text: str  # what a socket receives, serialised once for every subscriber

    def encode(self) -> bytes:
        return f"{self.owner_id or ''}\n{self.text}".encode()

    @classmethod
    def decode(cls, channel: str, data: bytes) -> "Message":
        owner_id, _, text = data.decode().partition("\n")
        return cls(channel, owner_id or None, text)


class Subscriber(Protocol):
    def offer(self, message: Message) -> None:
        """Take `message` without waiting (a subscriber that cannot keep up drops itself)."""
        ...


class Hub:
    """This process's subscribers by channel, and its Redis listener when there is one."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscriber]] = {}
        self._redis: Redis | None = None
        self._prefix = "feed"
        self._timeout = 1.0
        self._listener: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        self._failures = 0
        self._publish_down_until = 0.0

    def use(self, settings: Settings, redis: "Redis | None") -> None:
        """Fan out through `redis` (the process's client), or within this process."""
        self._redis, self._prefix = redis, settings.feed_key_prefix
        self._timeout = settings.redis_timeout
        self._subscribers.clear()
        if self._listener is not None:
            self._listener.cancel()  # it listened on the previous client
        self._listener, self._listening = None, asyncio.Event()
        self._publish_down_until = 0.0

    def subscribers(self, channel: str) -> int:
        return len(self._subscribers.get(channel, ()))

    def sockets(self) -> int:
        """Subscribers of every channel in this process."""
        return sum(len(subscribers) for subscribers in self._subscribers.values())

    async def publish(self, message: Message) -> None:
        """Deliver `message` to every subscriber of its channel, in every process."""
        if self._redis is None:
            self.deliver(message)
            return
        if time.monotonic() < self._publish_down_until:
            return  # Redis failed a moment ago: the message is lost, as it would be anyway
        try:
            await self._redis.publish(f"{self._prefix}:{message.channel}", message.encode())
        except unavailable_errors() as exc:
            self._publish_down_until = time.monotonic() + PUBLISH_RETRY_SECONDS
            log.warning("feed messages lost: Redis is unavailable", channel=message.channel,
                        error=_describe(exc), retry_in_seconds=PUBLISH_RETRY_SECONDS)  # fmt: skip

    def deliver(self, message: Message) -> None:
        for subscriber in list(self._subscribers.get(message.channel, ())):
            subscriber.offer(message)

    async def subscribe(self, channel: str, subscriber: Subscriber) -> None:
        """Add `subscriber`; with Redis, return once this process listens (or it is down)."""
        self._subscribers.setdefault(channel, set()).add(subscriber)
        if self._redis is not None:
            if self._listener is None or self._listener.done():
                self._listening.clear()
                self._listener = asyncio.create_task(self._listen(self._redis))
            with suppress(TimeoutError):
                async with asyncio.timeout(self._timeout):
                    await self._listening.wait()

    def unsubscribe(self, channel: str, subscriber: Subscriber) -> None:
        subscribers = self._subscribers.get(channel, set())
        subscribers.discard(subscriber)
        if not subscribers:
            self._subscribers.pop(channel, None)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with suppress(asyncio.CancelledError, Exception):  # a shutdown must not fail here
                await self._listener
            self._listener = None
        self._subscribers.clear()

    async def _listen(self, redis: "Redis") -> None:
        """Listen to every feed channel, for ever: after a failure, again after a pause."""
        while True:
            pubsub = redis.pubsub()
            try:
                await pubsub.psubscribe(f"{self._prefix}:*")
                await self._relay(pubsub)
            except Exception as exc:  # Redis away, or a bug: never stop listening for good
                self._listening.clear()
                await _close(pubsub)
                pause = RECONNECT_SECONDS[min(self._failures, len(RECONNECT_SECONDS) - 1)]
                self._failures += 1
                log.warning("feeds not listening", error=_describe(exc), retry_in_seconds=pause)
                await asyncio.sleep(pause)
            except BaseException:
                await _close(pubsub)
                raise

    async def _relay(self, pubsub: "PubSub") -> None:
        skip = len(self._prefix) + 1
        while True:
            # Without a timeout a quiet channel would trip the client's socket timeout.
            received = await pubsub.get_message(timeout=30)
            if received is None:
                continue
            if received["type"] == "psubscribe":
                self._failures = 0
                self._listening.set()
            elif received["type"] == "pmessage":
                try:
                    message = Message.decode(received["channel"].decode()[skip:], received["data"])
                except ValueError:  # not ours (UnicodeDecodeError is one): skip it, not the rest
                    log.warning("feed message not understood", channel=str(received["channel"]))
                    continue
                self.deliver(message)


async def _close(pubsub: "PubSub") -> None:
    with suppress(*unavailable_errors()):
        await pubsub.aclose()  # type: ignore[no-untyped-call]


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:200]


hub = Hub()
