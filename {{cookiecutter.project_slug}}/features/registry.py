"""The routers the app mounts, one per feature. `make feature` adds new ones here."""

from fastapi import APIRouter

ROUTERS: list[APIRouter] = []
