"""Change feeds: what a feature's rows became, pushed to the sockets that may see them.

A feature's service emits a `RowChanged` event (its own subclass, naming the channel) after each
write; the event bus publishes it only after the commit (core/events.py), and `broadcast`, listed
in the manifest's EVENT_HANDLERS, hands it to the hub (core/realtime/hub.py), which fans it out
to every process. A row with an owner reaches its owner's sockets and those that see every row.
"""

import json
import uuid
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Self

from pydantic import BaseModel

from core.events import Event
from core.realtime.hub import Message, hub

Action = Literal["created", "updated", "deleted"]


class RowChanged(Event):
    """A row of `channel`'s table was created, updated or deleted.

    `data` is the row as the feature's read schema shows it (None when deleted): a feed sends
    what the HTTP API would, nothing more.
    """

    channel: ClassVar[str]
    action: Action
    id: uuid.UUID
    owner_id: uuid.UUID | None = None
    data: dict[str, Any] | None = None

    @classmethod
    def of(cls, action: Action, row: Any, schema: type[BaseModel]) -> Self:
        """The event for `row` (a table object with `id`, and `owner_id` if it has owners)."""
        return cls(
            action=action,
            id=row.id,
            owner_id=getattr(row, "owner_id", None),
            data=None
            if action == "deleted"
            else schema.model_validate(row).model_dump(mode="json"),
        )


async def broadcast(event: RowChanged) -> None:
    """Send `event` to its channel's sockets in every process (an EVENT_HANDLERS entry)."""
    text = json.dumps(
        {"type": event.action, "id": str(event.id), "data": event.data}, separators=(",", ":")
    )
    owner = str(event.owner_id) if event.owner_id is not None else None
    await hub.publish(Message(event.channel, owner, text))


@dataclass(frozen=True)
class Viewer:
    """Who holds a socket, and which rows they may see.

    `user_id`: who authenticated (None on a public feed); a renewed token must name the same.
    `owner_id`: only rows owned by them are sent; None sends every row.
    `expires_at`: when their token expires (a Unix time), or None.
    """

    user_id: str | None = None
    owner_id: str | None = None
    expires_at: float | None = None

    def sees(self, owner_id: str | None) -> bool:
        return self.owner_id is None or owner_id == self.owner_id
