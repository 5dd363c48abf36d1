"""What the users feature tells other features. Published after the transaction commits."""

import uuid

from core.events import Event


class UserRegistered(Event):
    user_id: uuid.UUID
    email: str
