"""The router every part of the app declares its routes on, and its routes.

A `Router` is FastAPI's `APIRouter` with two differences:

- its routes end the request's database session (core/dependencies.py's `get_session`): commit
  once the endpoint has answered, roll back if it raised, close; before the response is sent;
- it turns a request away in one substring test when the path cannot be one of its own. FastAPI
  finds a request's route by trying every route of every included router in turn, each try a
  regular expression and some bookkeeping (a few µs): a request to the last feature paid for
  every route of the features before it. Every route path is the include prefix, the router's
  `prefix`, then the rest, so a path without the prefix in it matches none of them. (A prefix
  with a path parameter in it, `/orgs/{org_id}`, cannot be tested so; such a router tries its
  routes as any other.)
"""

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import Scope

from core.dependencies import end_session

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class Route(APIRoute):
    # What core/dependencies.py's `hold_session` looks for: a route that will end the session.
    ends_sessions = True

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                response = await handler(request)
            except BaseException:
                await end_session(request.scope, failed=True)
                raise
            await end_session(request.scope, failed=False)
            return response

        return handle


class Router(APIRouter):
    def __init__(self, *, route_class: type[APIRoute] = Route, **options: Any) -> None:
        super().__init__(route_class=route_class, **options)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        # The path the routes see is the end of scope["path"] (after any root path), so a prefix
        # not in scope["path"] is not in theirs.
        prefix = self.prefix
        if prefix and "{" not in prefix and prefix not in scope["path"]:
            return Match.NONE, {}
        return super().matches(scope)
