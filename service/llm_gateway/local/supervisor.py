"""Runs one `llama-server` for a `type: local` provider: starts it, waits until it is healthy,
restarts it with backoff when it dies, keeps its log lines, and stops it.

The server listens on loopback only and is started without a key: nothing but this machine can
reach it, and the gateway in front of it checks callers' keys.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import aiohttp

from llm_gateway.config.settings import LocalServerSettings
from llm_gateway.local.build import ServerBuild, build_server
from llm_gateway.local.models import CATALOGUE, fetch_model
from llm_gateway.local.package_index import PreparationError
from llm_gateway.processes import terminate, usable_cpus

log = logging.getLogger(__name__)
# The server's lines that are kept to be shown when it dies.
_KEPT_LINES = 200
_FIRST_BACKOFF = 0.5
_MAX_BACKOFF = 30.0
# A server that stayed up this long is considered recovered: the next death restarts it at once.
_STABLE_SECONDS = 60.0
_STOP_SECONDS = 10.0


def _level(line: str) -> int:
    """The level a server line is logged at: its errors (llama.cpp marks each line after its
    timestamp: `0.00.005.713 E srv ...`) as errors, the rest at DEBUG. Its warnings are
    routine (a prompt cache reused, no API key on loopback) and come several per request."""
    _, _, rest = line.partition(" ")
    return logging.ERROR if rest.startswith("E ") else logging.DEBUG


class LocalServerError(RuntimeError):
    """The local model server cannot be prepared or started."""


@dataclass(frozen=True)
class LaunchPlan:
    """What is run: the binary, the model file and the chat template."""

    binary: Path
    model_file: Path
    chat_template: Path | None
    model_name: str
    embedding: bool = False  # an embedding model, served with `--embeddings`


def prepare(settings: LocalServerSettings) -> LaunchPlan:
    """Builds the server and fetches the model if the cache lacks them (blocking: minutes on a
    machine that has neither)."""
    # What the config names is checked before a build of minutes.
    model = None
    embedding = False
    if settings.model_file is not None:
        model_file = Path(settings.model_file)
        if not model_file.is_file():
            raise LocalServerError(f"server.model_file: no such file {model_file}")
    else:
        model = CATALOGUE.get(settings.model)
        if model is None:
            known = ", ".join(sorted(CATALOGUE))
            raise LocalServerError(f"server.model: unknown model {settings.model!r} ({known})")
    try:
        build = build_server()
        if model is None:
            chatml, name = False, model_file.stem
        else:
            model_file, chatml, name = fetch_model(model), model.chatml, model.name
            embedding = model.embedding
    except PreparationError as exc:
        raise LocalServerError(f"cannot prepare the local model server: {exc}") from None
    template = None if embedding else _template(settings, build, chatml)
    return LaunchPlan(build.binary, model_file, template, name, embedding)


def _template(settings: LocalServerSettings, build: ServerBuild, chatml: bool) -> Path | None:
    if settings.chat_template == "auto":
        return build.tools_template if chatml else None
    if settings.chat_template == "model":
        return None
    path = Path(settings.chat_template)
    if not path.is_file():
        raise LocalServerError(f"server.chat_template: no such file {path}")
    return path


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _threads(settings: LocalServerSettings) -> int:
    if settings.threads is not None:
        return settings.threads
    return usable_cpus()


def _open_log(path: str) -> TextIO:
    try:
        return open(path, "a")  # kept open for the server's lifetime
    except OSError as exc:
        raise LocalServerError(f"server.log_file: cannot open {path}: {exc.strerror}") from None


def _parent_death_prefix() -> list[str]:
    """`setpriv --pdeathsig` (util-linux) makes the kernel stop the server should the gateway
    die without stopping it; a `preexec_fn` would force a fork after gRPC's threads started."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM", "--"] if setpriv else []


class LocalModelServer:
    """One supervised `llama-server` process."""

    def __init__(self, provider: str, settings: LocalServerSettings) -> None:
        self.provider = provider
        self._settings = settings
        self.port = settings.port or free_port()
        self._plan: LaunchPlan | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._supervising: asyncio.Task[None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._stopping = False
        self.restarts = 0
        # Called each time a restarted server is healthy again.
        self.on_recovered: Callable[[], None] | None = None
        self._lines: collections.deque[str] = collections.deque(maxlen=_KEPT_LINES)
        self._log_file: TextIO | None = None

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible API root of the server."""
        return f"http://127.0.0.1:{self.port}/v1"

    def describe(self) -> str:
        """What the server runs, for the start-up log (once it has started)."""
        assert self._plan is not None, "start the server first"
        return (
            f"llama-server {self._plan.model_name} on 127.0.0.1:{self.port} "
            f"({self._settings.slots} slots, {self._settings.context_size} tokens of context)"
        )

    def command(self, plan: LaunchPlan) -> list[str]:
        """The command line of the server."""
        settings = self._settings
        command = [
            *_parent_death_prefix(),
            str(plan.binary),
            "--model",
            str(plan.model_file),
            "--alias",
            plan.model_name,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--ctx-size",
            str(settings.context_size),
            "--parallel",
            str(settings.slots),
            "--threads",
            str(_threads(settings)),
            "--offline",
            "--no-webui",
            "--metrics",
            "--slots",
        ]
        if plan.chat_template is not None:
            command += ["--jinja", "--chat-template-file", str(plan.chat_template)]
        if plan.embedding:
            # Sentence embeddings are the mean of the token vectors (as sentence-transformers
            # pools all-MiniLM-L6-v2), normalised by the server.
            command += ["--embeddings", "--pooling", "mean"]
        return command + settings.extra_args

    async def start(self) -> None:
        """Prepares the server if needed, starts it and waits until it is healthy; raises
        `LocalServerError` if it does not get there."""
        try:
            self._plan = await asyncio.to_thread(prepare, self._settings)
            if self._settings.log_file:
                self._log_file = _open_log(self._settings.log_file)
            await self._spawn()
            await self._wait_healthy(self._settings.startup_timeout)
        except BaseException:
            await self.stop()
            raise
        self._supervising = asyncio.create_task(self._supervise())

    async def _spawn(self) -> None:
        assert self._plan is not None
        # Its own session: a Ctrl-C meant for the gateway must not stop the model while the
        # gateway's streams are still draining.
        self._process = await asyncio.create_subprocess_exec(
            *self.command(self._plan),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        self._reader = asyncio.create_task(self._read_lines(self._process))

    async def _read_lines(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        tag = f"[llama-server {self.provider}]"
        while line := await process.stdout.readline():
            text = line.decode(errors="replace").rstrip()
            self._lines.append(text)
            log.log(_level(text), "%s %s", tag, text)
            if self._log_file is not None:
                self._log_file.write(text + "\n")
                self._log_file.flush()

    async def _wait_healthy(self, seconds: float) -> None:
        """Waits until `GET /health` answers 200 (it says 503 while the model loads)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        url = f"http://127.0.0.1:{self.port}/health"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            while loop.time() < deadline:
                process = self._process
                if process is None or process.returncode is not None:
                    status = None if process is None else process.returncode
                    raise LocalServerError(
                        f"llama-server exited with status {status} while starting:\n"
                        + "\n".join(list(self._lines)[-15:])
                    )
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with session.get(url) as answer:
                        if answer.status == 200:
                            return
                await asyncio.sleep(0.1)
        raise LocalServerError(f"llama-server was not healthy within {seconds:g} s")

    async def _supervise(self) -> None:
        """Restarts the server each time it dies, waiting longer after each quick death."""
        backoff = _FIRST_BACKOFF
        loop = asyncio.get_running_loop()
        while True:
            assert self._process is not None
            started = loop.time()
            status = await self._process.wait()
            if self._stopping:
                return
            log.error(
                "llama-server of provider %r exited with status %s; its last lines:\n%s",
                self.provider,
                status,
                "\n".join(list(self._lines)[-20:]),
            )
            if loop.time() - started > _STABLE_SECONDS:
                backoff = _FIRST_BACKOFF
            log.warning("restarting llama-server of provider %r in %.1f s", self.provider, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, _MAX_BACKOFF)
            if self._stopping:
                return
            self.restarts += 1
            await self._spawn()
            try:
                await self._wait_healthy(self._settings.startup_timeout)
            except LocalServerError as exc:
                log.error("%s", exc)
                await self._terminate()  # one that runs but is not healthy is ended too
                continue
            log.info(
                "llama-server of provider %r is back (restart %d)", self.provider, self.restarts
            )
            if self.on_recovered is not None:
                self.on_recovered()

    async def _terminate(self) -> None:
        if self._process is not None:
            await terminate(self._process, _STOP_SECONDS)

    async def stop(self) -> None:
        """Stops the server for good (the gateway's own requests have ended by then)."""
        self._stopping = True
        if self._supervising is not None:
            self._supervising.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervising
        await self._terminate()
        if self._log_file is not None:
            self._log_file.close()
