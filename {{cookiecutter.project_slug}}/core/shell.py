"""An interactive Python shell where top-level `await` works (`make shell`).

IPython when it is installed and stdin is a terminal; otherwise the standard library's
console, compiled the way `python -m asyncio` compiles it, so `await session.exec(...)` runs on
one event loop that lives as long as the shell.
"""

import ast
import asyncio
import code
import importlib
import inspect
import sys
import types
from typing import Any


class AsyncConsole(code.InteractiveConsole):
    def __init__(self, namespace: dict[str, Any], loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(namespace)
        self.namespace = namespace
        self.loop = loop
        self.compile.compiler.flags |= ast.PyCF_ALLOW_TOP_LEVEL_AWAIT

    def runcode(self, code: types.CodeType) -> None:
        try:
            result = types.FunctionType(code, self.namespace)()
            if inspect.iscoroutine(result):
                self.loop.run_until_complete(result)
        except SystemExit:
            raise
        except BaseException:
            self.showtraceback()

    def run_source(self, source: str) -> bool:
        """Run a whole script (`--command`); True if it raised."""
        flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        try:
            compiled = compile(source, "<command>", "exec", flags=flags)
        except SyntaxError:
            self.showsyntaxerror()
            return True
        try:
            result = types.FunctionType(compiled, self.namespace)()
            if inspect.iscoroutine(result):
                self.loop.run_until_complete(result)
        except Exception:
            self.showtraceback()
            return True
        return False


def start(
    namespace: dict[str, Any],
    *,
    loop: asyncio.AbstractEventLoop,
    banner: str,
    command: str | None = None,
    plain: bool = False,
) -> int:
    """Run `command`, or an interactive shell until EOF; the exit status."""
    console = AsyncConsole(namespace, loop)
    if command is not None:
        return 1 if console.run_source(command) else 0
    if plain or not sys.stdin.isatty() or not _start_ipython(namespace, loop, banner):
        console.interact(banner=banner, exitmsg="")
    return 0


def _start_ipython(namespace: dict[str, Any], loop: asyncio.AbstractEventLoop, banner: str) -> bool:
    """IPython if it is installed (False if not), awaiting on our loop, where `session` lives."""
    try:
        embed = importlib.import_module("IPython.terminal.embed")
    except ImportError:
        return False
    shell = embed.InteractiveShellEmbed(banner2=banner, user_ns=namespace)
    shell.autoawait = True
    shell.loop_runner = loop.run_until_complete
    shell()
    return True
