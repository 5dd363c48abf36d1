"""Running commands and servers the way a user of a baked project would, and timing them."""

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import uv

TEMPLATE_DIR = Path(__file__).resolve().parent.parent
CHILD_STARTUP_TIMEOUT = 60.0


class BenchError(Exception):
    """A step that must succeed did not; the message says which and shows its output."""


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def uv_bin_dir() -> Path:
    # A directory holding only `uv`: neither a pyenv shim nor this venv's python gets in the way.
    link_dir = TEMPLATE_DIR / "build" / "bench-uv-bin"
    link = link_dir / "uv"
    if not link.exists():
        link_dir.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            link.symlink_to(uv.find_uv_bin())
    return link_dir


def tool_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A baked project's environment: our uv first on PATH, no outer venv, no database URLs."""
    # PYTHONDONTWRITEBYTECODE: a developer's machine caches bytecode; with it set, every run of
    # cookiecutter, pytest or the app would compile its imports again.
    dropped = {"VIRTUAL_ENV", "PYTHONPATH", "DATABASE_URL", "TEST_DATABASE_URL"}
    dropped.add("PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env["PATH"] = f"{uv_bin_dir()}{os.pathsep}{env.get('PATH', '')}"
    env["UV_NO_PROGRESS"] = "1"
    env.update(extra or {})
    return env


def run(
    args: list[str],
    cwd: Path,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args, cwd=cwd, env=tool_env(env), capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise BenchError(
            f"`{' '.join(args)}` exited {result.returncode} in {cwd}\n"
            f"--- stdout ---\n{result.stdout[-4000:]}\n--- stderr ---\n{result.stderr[-4000:]}"
        )
    return result


def timed(
    args: list[str], cwd: Path, *, env: Mapping[str, str] | None = None
) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    result = run(args, cwd, env=env)
    return time.perf_counter() - start, result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def http_status(port: int, path: str, timeout: float = 5) -> int | None:
    """The status of one GET, or None if nothing answers yet."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    except OSError:
        return None
    finally:
        conn.close()


def leaf_pid(pid: int) -> int:
    """The innermost descendant: `taskset` execs `uv`, and `uv run` starts Python as its child."""
    while True:
        # uv spawns from a worker thread: the child is listed under that thread, not the main one.
        kids = [
            kid
            for task in Path(f"/proc/{pid}/task").glob("*")
            for kid in _read(task / "children").split()
        ]
        if not kids:
            return pid
        pid = int(kids[0])


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def peak_rss_mib(pid: int) -> float:
    """VmHWM: the most resident memory the process ever had."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise BenchError(f"no VmHWM for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of stat(5)
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    port: int
    pid: int  # the Python process that serves, for RSS and the profiler
    started_in: float  # seconds from spawn to the first 200 on the ready path
    log: Path

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@contextlib.contextmanager
def serve(
    args: list[str],
    cwd: Path,
    *,
    env: Mapping[str, str] | None = None,
    log: Path,
    cpu: str = "0",
    ready_path: str = "/health/live",
) -> Iterator[Server]:
    """Start `args --port N` pinned to `cpu`; yield once `ready_path` answers 200; stop it."""
    port = free_port()
    command = ["taskset", "-c", cpu, *args, "--port", str(port)]
    # A file, not a pipe: a server logging every request would block on a full pipe.
    with log.open("wb") as log_file:
        start = time.perf_counter()
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=tool_env(env),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # so the whole group (uv and Python) stops together
        )
        try:
            deadline = start + CHILD_STARTUP_TIMEOUT
            while http_status(port, ready_path, timeout=1) != 200:
                if process.poll() is not None or time.perf_counter() > deadline:
                    raise BenchError(
                        f"the server did not start: {' '.join(command)}\n"
                        + log.read_text(errors="replace")[-4000:]
                    )
                time.sleep(0.005)
            started_in = time.perf_counter() - start
            yield Server(port=port, pid=leaf_pid(process.pid), started_in=started_in, log=log)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
