"""A local stand-in for Discord on 127.0.0.1, so tests drive the real discord.py client.

It speaks enough of the gateway (HELLO, IDENTIFY → READY + GUILD_CREATE, heartbeats and ACKs,
RESUME → RESUMED, closing the socket on demand; one session per shard, each guild's events on the
shard that carries it) and of the REST API (login, application info, gateway URL, interaction
callbacks, follow-up webhooks, channel messages and their edits, typing, command sync,
direct-message channels) for the bot to log in,
receive slash commands and mentions, and answer. Every REST request is recorded
with its JSON body so tests can assert on exactly what would have reached Discord.

It is strict where Discord is: a second response to one interaction is a 400 (40060), a follow-up
before the response a 404, an unknown token a 401, and privileged intents can be refused (4014).
discord.py only parses a body as JSON when Content-Type is exactly `application/json`, so every
response sets exactly that.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

APP_ID = 1100000000000000001
BOT_ID = 1100000000000000002
GUILD_ID = 1100000000000000003
CHANNEL_ID = 1100000000000000004
OTHER_CHANNEL_ID = 1100000000000000005
USER_ID = 1100000000000000010
PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | (1 << 15)  # members, presences, message_content
MANAGE_GUILD = 1 << 5


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]
    at: float


@dataclass
class Session:
    session_id: str
    identify: dict[str, Any]
    ws: web.WebSocketResponse
    sequence: int = 0

    def owns(self, guild_id: int) -> bool:
        """Whether this session's shard (IDENTIFY's [shard_id, shard_count]) carries the guild."""
        shard = self.identify.get("shard")
        return not shard or (guild_id >> 22) % shard[1] == shard[0]


@dataclass
class DiscordStub:
    """Start with `await stub.start()`, point discord.py at it with `stub.patched()`."""

    token: str
    heartbeat_interval_ms: int = 2000
    bind_port: int = 0  # 0: any free port
    gateway_refusals: int = 0  # the first N gateway handshakes get 503, as in a Discord outage
    allow_privileged_intents: bool = False
    close_code_on_identify: int | None = None
    channel_status: dict[int, int] = field(default_factory=dict)  # channel id → HTTP error
    followup_status: int | None = None  # an HTTP error for every follow-up
    edit_status: dict[int, int] = field(default_factory=dict)  # message id → HTTP error on PATCH
    double_acks: int = 0  # second responses to one interaction (Discord: 400, code 40060)
    closed_dms: set[int] = field(default_factory=set)  # users whose DMs refuse us (403, 50007)
    requests: list[Request] = field(default_factory=list)
    identifies: list[dict[str, Any]] = field(default_factory=list)
    resumes: list[dict[str, Any]] = field(default_factory=list)
    heartbeats: int = 0
    refused_handshakes: int = 0

    def __post_init__(self) -> None:
        self._ids = itertools.count(1200000000000000000)
        self._runner: web.AppRunner | None = None
        self._ws: web.WebSocketResponse | None = None
        self._session: Session | None = None  # the latest
        self.sessions: list[Session] = []  # every IDENTIFY, e.g. one per shard
        self._changed = asyncio.Condition()
        self._interactions: dict[str, dict[str, Any]] = {}  # token → {"responded": bool, ...}
        self.messages: dict[int, dict[str, Any]] = {}  # every message created, by id
        self.threads: dict[int, int] = {}  # threads created: thread id → parent channel id
        self.dm_channels: dict[int, int] = {}  # DM channels opened: channel id → user id
        self.port = 0

    # ----------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/gateway-ws/", self._gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.bind_port)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop(self) -> None:
        for ws in [session.ws for session in self.sessions] + [self._ws]:
            if ws is not None and not ws.closed:
                await ws.close(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway-ws/"

    @contextmanager
    def patched(self) -> Iterator[None]:
        """Point discord.py's REST base and default gateway at this stub (restored afterwards)."""
        import discord.gateway
        import discord.http
        import yarl

        old_base = discord.http.Route.BASE
        old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
        discord.http.Route.BASE = self.api_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        try:
            yield
        finally:
            discord.http.Route.BASE = old_base
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway

    # ----------------------------------------------------------------- what tests do
    async def slash(
        self,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        user_id: int = USER_ID,
        guild_id: int = GUILD_ID,
        channel_id: int = CHANNEL_ID,
        permissions: int = 0,
    ) -> str:
        """Dispatch INTERACTION_CREATE for a slash command; returns the interaction token."""
        return await self._interaction(
            2,
            {
                "id": str(next(self._ids)),
                "name": name,
                "type": 1,
                "options": [
                    {"name": key, "type": 4 if isinstance(value, int) else 3, "value": value}
                    for key, value in (options or {}).items()
                ],
            },
            user_id=user_id,
            guild_id=guild_id,
            channel_id=channel_id,
            permissions=permissions,
        )

    async def click(
        self,
        message_id: int,
        custom_id: str,
        *,
        user_id: int = USER_ID,
        guild_id: int = GUILD_ID,
    ) -> str:
        """Dispatch a button click (component interaction, type 3) on a message the bot sent;
        the message comes with its components, as Discord sends it."""
        message = self.messages[message_id]
        return await self._interaction(
            3,
            {"custom_id": custom_id, "component_type": 2},
            user_id=user_id,
            guild_id=guild_id,
            channel_id=int(message["channel_id"]),
            message=message,
        )

    async def message_command(
        self,
        name: str,
        target: dict[str, Any],
        *,
        user_id: int = USER_ID,
        guild_id: int = GUILD_ID,
        channel_id: int = CHANNEL_ID,
    ) -> str:
        """Dispatch a message context-menu command (application command type 3) on `target`
        (a message payload, e.g. from `user_message`)."""
        return await self._interaction(
            2,
            {
                "id": str(next(self._ids)),
                "name": name,
                "type": 3,
                "target_id": target["id"],
                "resolved": {"messages": {target["id"]: target}},
            },
            user_id=user_id,
            guild_id=guild_id,
            channel_id=channel_id,
        )

    async def _interaction(
        self,
        kind: int,
        command: dict[str, Any],
        *,
        user_id: int,
        guild_id: int,
        channel_id: int,
        permissions: int = 0,
        message: dict[str, Any] | None = None,
    ) -> str:
        interaction_id = next(self._ids)
        token = f"interaction-token-{interaction_id}-secret"
        self._interactions[token] = {
            "id": interaction_id,
            "responded": False,
            "channel_id": channel_id,
            "type": kind,
            "message_id": int(message["id"]) if message is not None else None,
        }
        data = {
            "id": str(interaction_id),
            "application_id": str(APP_ID),
            "type": kind,
            "token": token,
            "version": 1,
            "guild_id": str(guild_id),
            "channel_id": str(channel_id),
            "channel": {
                "id": str(channel_id),
                "type": 11 if channel_id in self.threads else 0,
                "guild_id": str(guild_id),
                "name": "general",
                "position": 0,
                "permission_overwrites": [],
                **(
                    {"parent_id": str(self.threads[channel_id]), "thread_metadata": _thread_meta()}
                    if channel_id in self.threads
                    else {}
                ),
            },
            "member": _member(user_id, permissions),
            "data": command,
            **({"message": message} if message is not None else {}),
            "app_permissions": str((1 << 11) | (1 << 10)),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild_id)},
            "context": 0,
            "attachment_size_limit": 8 * 1024 * 1024,
        }
        await self.dispatch("INTERACTION_CREATE", data)
        return token

    async def mention(
        self,
        text: str,
        *,
        user_id: int = USER_ID,
        guild_id: int = GUILD_ID,
        channel_id: int = CHANNEL_ID,
        author_is_bot: bool = False,
    ) -> int:
        """Dispatch MESSAGE_CREATE for `<@bot> text`; returns the message id."""
        return await self.say(
            f"<@{BOT_ID}> {text}",
            user_id=user_id,
            guild_id=guild_id,
            channel_id=channel_id,
            author_is_bot=author_is_bot,
        )

    async def say(
        self,
        content: str,
        *,
        user_id: int = USER_ID,
        guild_id: int = GUILD_ID,
        channel_id: int = CHANNEL_ID,
        author_is_bot: bool = False,
        mentions_bot: bool | None = None,
        reply_to: int | None = None,
    ) -> int:
        """Dispatch MESSAGE_CREATE as Discord sends it to a bot without the message-content
        intent: `content` is delivered only when the message mentions the bot (a reply with
        the @ ping on mentions the replied-to author); otherwise content arrives empty."""
        message = self.user_message(
            content,
            user_id=user_id,
            guild_id=guild_id,
            channel_id=channel_id,
            author_is_bot=author_is_bot,
            mentions_bot=mentions_bot,
            reply_to=reply_to,
        )
        mentioned = any(m["id"] == str(BOT_ID) for m in message["mentions"])
        if not mentioned:
            message = {**message, "content": ""}
        await self.dispatch("MESSAGE_CREATE", message)
        return int(message["id"])

    def user_message(
        self,
        content: str,
        *,
        user_id: int = USER_ID,
        guild_id: int = GUILD_ID,
        channel_id: int = CHANNEL_ID,
        author_is_bot: bool = False,
        mentions_bot: bool | None = None,
        reply_to: int | None = None,
    ) -> dict[str, Any]:
        """A message payload by a user (full content), recorded in `messages`."""
        message_id = next(self._ids)
        if mentions_bot is None:
            mentions_bot = f"<@{BOT_ID}>" in content
        data: dict[str, Any] = {
            "id": str(message_id),
            "channel_id": str(channel_id),
            "guild_id": str(guild_id),
            "author": _user(user_id, "asker", bot=author_is_bot),
            "member": _member(user_id, 0, with_user=False),
            "content": content,
            "timestamp": _now(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [_user(BOT_ID, "quotebot", bot=True)] if mentions_bot else [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "components": [],
            "pinned": False,
            "type": 0,
            "flags": 0,
        }
        if reply_to is not None:
            data["type"] = 19
            data["message_reference"] = {
                "type": 0,
                "message_id": str(reply_to),
                "channel_id": str(channel_id),
                "guild_id": str(guild_id),
            }
            data["referenced_message"] = self.messages.get(reply_to)
        self.messages[message_id] = data
        return data

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send an event on the latest session whose shard carries its guild, as Discord does."""
        guild_id = int(data.get("guild_id") or GUILD_ID)
        owners = [s for s in self.sessions if s.owns(guild_id)]
        session = owners[-1] if owners else self._session
        assert session is not None, "no gateway session"
        await self._send(session, event, data)

    async def _send(self, session: Session, event: str, data: dict[str, Any]) -> None:
        session.sequence += 1
        await session.ws.send_str(
            json.dumps({"op": 0, "t": event, "s": session.sequence, "d": data})
        )

    async def drop_connection(self, code: int = 4000) -> None:
        """Close the gateway socket mid-session, as Discord does from time to time."""
        assert self._ws is not None
        await self._ws.close(code=code)

    async def wait_for(
        self, predicate: Callable[[list[Request]], bool], timeout: float = 10.0
    ) -> None:
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: predicate(self.requests)), timeout
            )

    async def wait_for_session(self, count: int = 1, timeout: float = 10.0) -> None:
        """Wait until `count` sessions were established (IDENTIFY or RESUME) in total."""
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(
                    lambda: (
                        len(self.identifies) + len(self.resumes) >= count
                        and self._ws is not None
                        and not self._ws.closed
                    )
                ),
                timeout,
            )

    def sent(self, path_part: str, method: str = "POST") -> list[Request]:
        return [r for r in self.requests if r.method == method and path_part in r.path]

    def followup_messages(self, token: str) -> list[dict[str, Any]]:
        """The messages created by follow-ups of one interaction, as Discord returned them."""
        ids = self._interactions[token].get("messages", [])
        return [self.messages[i] for i in ids]

    def messages_for(self, token: str) -> list[Request]:
        """The interaction callback and follow-ups sent for one interaction, in order."""
        return [r for r in self.requests if f"/{token}" in r.path]

    # ----------------------------------------------------------------- gateway
    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        if self.gateway_refusals > 0:
            self.gateway_refusals -= 1
            self.refused_handshakes += 1
            return _json({"message": "503: Service Unavailable", "code": 0}, 503)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._ws = ws
        await ws.send_str(
            json.dumps({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
        )
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                break
            payload = json.loads(msg.data)
            op = payload.get("op")
            if op == 1:
                self.heartbeats += 1
                await ws.send_str(json.dumps({"op": 11}))
            elif op == 2:
                await self._identify(ws, payload["d"])
            elif op == 6:
                await self._resume(ws, payload["d"])
            async with self._changed:
                self._changed.notify_all()
        async with self._changed:
            self._changed.notify_all()
        return ws

    async def _identify(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> None:
        if data.get("token") != self.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return
        if self.close_code_on_identify is not None:
            await ws.close(code=self.close_code_on_identify)
            return
        if data.get("intents", 0) & PRIVILEGED_INTENTS and not self.allow_privileged_intents:
            await ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        self.identifies.append(data)
        session = Session(f"session-{next(self._ids)}", data, ws)
        self._session = session
        self.sessions.append(session)
        ours = session.owns(GUILD_ID)  # a shard hears only of its own guilds
        await self._send(
            session,
            "READY",
            {
                "v": 10,
                "user": _user(BOT_ID, "quotebot", bot=True),
                "guilds": [{"id": str(GUILD_ID), "unavailable": True}] if ours else [],
                "session_id": session.session_id,
                "resume_gateway_url": self.gateway_url,
                "application": {"id": str(APP_ID), "flags": 0},
                **({"shard": data["shard"]} if data.get("shard") else {}),
            },
        )
        if ours:
            await self._send(session, "GUILD_CREATE", _guild())

    async def _resume(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> None:
        if data.get("token") != self.token or self._session is None:
            await ws.close(code=4004)
            return
        session = next((s for s in self.sessions if s.session_id == data.get("session_id")), None)
        if session is None:
            await ws.send_str(json.dumps({"op": 9, "d": False}))
            return
        self.resumes.append(data)
        session.ws = ws
        await self._send(session, "RESUMED", {})

    # ----------------------------------------------------------------- REST
    async def _rest(self, request: web.Request) -> web.Response:
        raw = await request.read()
        body: Any = None
        if raw and request.content_type == "application/json":
            body = json.loads(raw)
        elif raw:
            body = raw.decode("utf-8", "replace")
        path = "/" + request.match_info["tail"]
        self.requests.append(
            Request(
                request.method,
                path,
                dict(request.query),
                body,
                dict(request.headers),
                asyncio.get_running_loop().time(),
            )
        )
        try:
            return self._route(request, path, body)
        finally:
            async with self._changed:
                self._changed.notify_all()

    def _route(self, request: web.Request, path: str, body: Any) -> web.Response:
        parts = path.strip("/").split("/")
        method = request.method
        authorised = request.headers.get("Authorization") == f"Bot {self.token}"
        needs_token = parts[0] in ("users", "oauth2", "gateway", "applications", "channels")
        if needs_token and not authorised:
            return _json({"message": "401: Unauthorized", "code": 0}, 401)
        if path == "/users/@me":
            return _json(_user(BOT_ID, "quotebot", bot=True))
        if path == "/users/@me/channels" and method == "POST":
            return _json(self._dm_channel(int((body or {})["recipient_id"])))
        if path == "/oauth2/applications/@me":
            return _json(_application())
        if path == "/gateway":
            return _json({"url": self.gateway_url})
        if path == "/gateway/bot":
            return _json(
                {
                    "url": self.gateway_url,
                    "shards": 1,
                    "session_start_limit": {
                        "total": 1000,
                        "remaining": 999,
                        "reset_after": 0,
                        "max_concurrency": 1,
                    },
                }
            )
        if parts[0] == "applications" and parts[-1] == "commands":
            commands = body if method == "PUT" else []
            return _json(
                [
                    {
                        "description": "",  # Discord sends "" for context-menu commands
                        **c,
                        "id": str(next(self._ids)),
                        "application_id": str(APP_ID),
                        "version": "1",
                    }
                    for c in commands
                ]
            )
        if parts[0] == "interactions" and parts[-1] == "callback":
            return self._callback(parts[2], body)
        if parts[0] == "webhooks" and len(parts) >= 3:
            return self._webhook(parts[2], body)
        if parts[0] == "channels" and len(parts) >= 3:
            channel_id = int(parts[1])
            status = self.channel_status.get(channel_id)
            if status is not None:
                code = {403: 50013, 404: 10003}.get(status, 0)
                return _json({"message": "Missing Permissions", "code": code}, status)
            if parts[2] == "typing":
                return web.Response(status=204)
            if self.dm_channels.get(channel_id) in self.closed_dms:
                return _json({"message": "Cannot send messages to this user", "code": 50007}, 403)
            if parts[2] == "messages" and method == "POST" and len(parts) == 3:
                return _json(self._message(channel_id, body))
            if parts[2] == "messages" and method == "PATCH" and len(parts) == 4:
                return self._edit(channel_id, int(parts[3]), body)
            if parts[2] == "messages" and len(parts) == 5 and parts[4] == "threads":
                return _json(self._thread(channel_id, int(parts[3]), body))
        return _json({"message": "404: Not Found", "code": 0}, 404)

    def _callback(self, token: str, body: Any) -> web.Response:
        interaction = self._interactions.get(token)
        if interaction is None:
            return _json({"message": "Unknown interaction", "code": 10062}, 404)
        if interaction["responded"]:
            self.double_acks += 1
            return _json(
                {"message": "Interaction has already been acknowledged.", "code": 40060}, 400
            )
        interaction["responded"] = True
        flags = (body.get("data") or {}).get("flags", 0)
        if body.get("type") == 7 and interaction["message_id"] in self.messages:  # UPDATE_MESSAGE
            message = self.messages[interaction["message_id"]]
            for key in ("content", "components"):
                if key in (body.get("data") or {}):
                    message[key] = body["data"][key]
        return _json(
            {
                "interaction": {
                    "id": str(interaction["id"]),
                    "type": interaction["type"],
                    "response_message_loading": body.get("type") == 5,
                    "response_message_ephemeral": bool(flags & 64),
                }
            }
        )

    def _webhook(self, token: str, body: Any) -> web.Response:
        interaction = self._interactions.get(token)
        if interaction is None or not interaction["responded"]:
            return _json({"message": "Unknown Webhook", "code": 10015}, 404)
        if self.followup_status is not None:
            code = {400: 50035, 403: 50013, 404: 10015}.get(self.followup_status, 0)
            return _json({"message": "Refused by the stand-in", "code": code}, self.followup_status)
        message = self._message(interaction["channel_id"], body, webhook=True)
        interaction.setdefault("messages", []).append(int(message["id"]))
        return _json(message)

    def _dm_channel(self, user_id: int) -> dict[str, Any]:
        """The DM channel with a user (one per user, as Discord keeps it); whether the user
        accepts messages is only known when one is sent (`closed_dms`)."""
        channel_id = next((c for c, u in self.dm_channels.items() if u == user_id), None)
        if channel_id is None:
            channel_id = next(self._ids)
            self.dm_channels[channel_id] = user_id
        return {
            "id": str(channel_id),
            "type": 1,
            "last_message_id": None,
            "recipients": [_user(user_id, f"user{user_id % 1000}")],
        }

    def direct_messages(self, user_id: int) -> list[dict[str, Any]]:
        """Messages the bot sent to `user_id` in a DM, oldest first."""
        channels = {str(c) for c, u in self.dm_channels.items() if u == user_id}
        return [m for m in self.messages.values() if m["channel_id"] in channels]

    def _edit(self, channel_id: int, message_id: int, body: Any) -> web.Response:
        """PATCH a message: only the bot's own, in the channel it is in (else 404, as Discord
        answers for a message that was deleted)."""
        message = self.messages.get(message_id)
        if message is None or int(message["channel_id"]) != channel_id:
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        if message_id in self.edit_status:  # e.g. 400, code 50083: the thread is archived
            return _json(
                {"message": "Refused by the stand-in", "code": 50083}, self.edit_status[message_id]
            )
        if message["author"]["id"] not in (str(BOT_ID), str(APP_ID)):
            return _json(
                {"message": "Cannot edit a message authored by another user", "code": 50005}, 403
            )
        body = body if isinstance(body, dict) else {}
        for key in ("content", "components"):
            if key in body:
                message[key] = (
                    body[key] if body[key] is not None else ([] if key == "components" else "")
                )
        message["edited_timestamp"] = _now()
        return _json(message)

    def delete_message(self, message_id: int) -> None:
        """Someone deleted the message (Discord answers 404 for it from now on)."""
        del self.messages[message_id]

    def edits(self, message_id: int | None = None) -> list[Request]:
        """PATCH requests on channel messages (of one message, if given), in order."""
        return [
            r
            for r in self.requests
            if r.method == "PATCH"
            and r.path.startswith("/channels/")
            and (message_id is None or r.path.endswith(f"/messages/{message_id}"))
        ]

    def _thread(self, channel_id: int, message_id: int, body: Any) -> dict[str, Any]:
        """A public thread started from a message; Discord also sends THREAD_CREATE."""
        thread_id = next(self._ids)
        self.threads[thread_id] = channel_id
        thread = {
            "id": str(thread_id),
            "guild_id": str(GUILD_ID),
            "parent_id": str(channel_id),
            "owner_id": str(BOT_ID),
            "name": (body or {}).get("name", ""),
            "type": 11,
            "last_message_id": None,
            "message_count": 0,
            "member_count": 1,
            "rate_limit_per_user": 0,
            "thread_metadata": _thread_meta(),
        }
        asyncio.get_running_loop().create_task(
            self.dispatch("THREAD_CREATE", {**thread, "newly_created": True})
        )
        return thread

    def _message(self, channel_id: int, body: Any, webhook: bool = False) -> dict[str, Any]:
        body = body if isinstance(body, dict) else {}
        message_id = next(self._ids)
        message = {
            "id": str(message_id),
            "channel_id": str(channel_id),
            "author": _user(APP_ID if webhook else BOT_ID, "quotebot", bot=True),
            "content": body.get("content") or "",
            "timestamp": _now(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "pinned": False,
            "type": 0,
            "flags": body.get("flags", 0),
            "components": body.get("components", []),
            **({"webhook_id": str(APP_ID)} if webhook else {}),
        }
        self.messages[message_id] = message
        return message


def _thread_meta() -> dict[str, Any]:
    return {
        "archived": False,
        "auto_archive_duration": 1440,
        "archive_timestamp": _now(),
        "locked": False,
    }


def _json(payload: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(payload).encode(),
        status=status,
        headers={"Content-Type": "application/json"},
    )


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _user(user_id: int, name: str, *, bot: bool = False) -> dict[str, Any]:
    return {
        "id": str(user_id),
        "username": name,
        "discriminator": "0",
        "global_name": name,
        "avatar": None,
        "bot": bot,
        "public_flags": 0,
    }


def _member(user_id: int, permissions: int, with_user: bool = True) -> dict[str, Any]:
    member: dict[str, Any] = {
        "roles": [],
        "joined_at": _now(),
        "deaf": False,
        "mute": False,
        "flags": 0,
        "nick": None,
        "avatar": None,
        "pending": False,
        "permissions": str(permissions),
    }
    if with_user:
        member["user"] = _user(user_id, "asker")
    return member


def _application() -> dict[str, Any]:
    return {
        "id": str(APP_ID),
        "name": "quotebot",
        "icon": None,
        "description": "",
        "rpc_origins": [],
        "bot_public": False,
        "bot_require_code_grant": False,
        "owner": _user(USER_ID, "owner"),
        "summary": "",
        "verify_key": "00",
        "team": None,
        "flags": 0,
        "bot": _user(BOT_ID, "quotebot", bot=True),
    }


def _guild() -> dict[str, Any]:
    def channel(channel_id: int, name: str) -> dict[str, Any]:
        return {
            "id": str(channel_id),
            "type": 0,
            "name": name,
            "position": 0,
            "permission_overwrites": [],
            "guild_id": str(GUILD_ID),
            "nsfw": False,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "parent_id": None,
        }

    return {
        "id": str(GUILD_ID),
        "name": "Test guild",
        "unavailable": False,
        "member_count": 2,
        "large": False,
        "owner_id": str(USER_ID),
        "features": [],
        "emojis": [],
        "stickers": [],
        "roles": [
            {
                "id": str(GUILD_ID),
                "name": "@everyone",
                "permissions": str(1 << 11),
                "position": 0,
                "color": 0,
                "hoist": False,
                "managed": False,
                "mentionable": False,
                "flags": 0,
            }
        ],
        "channels": [channel(CHANNEL_ID, "general"), channel(OTHER_CHANNEL_ID, "random")],
        "members": [
            {**_member(BOT_ID, 0, with_user=False), "user": _user(BOT_ID, "quotebot", bot=True)}
        ],
        "threads": [],
        "presences": [],
        "voice_states": [],
        "joined_at": _now(),
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "premium_tier": 0,
        "preferred_locale": "en-US",
        "system_channel_flags": 0,
        "nsfw_level": 0,
        "premium_progress_bar_enabled": False,
        "afk_timeout": 300,
    }
