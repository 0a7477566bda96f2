"""A fake Telegram Bot API server on 127.0.0.1 for end-to-end tests.

The real python-telegram-bot `Application` talks HTTP to it through
``base_url`` (`FakeBotApi.base_url`, e.g. ``http://127.0.0.1:PORT/bot``; PTB
appends the token). It is a stdlib `ThreadingHTTPServer` in a daemon thread:

- methods: getMe, getUpdates (long polling with ``offset``/``timeout``, each
  wait bounded by `max_wait`), sendMessage, editMessageText,
  editMessageReplyMarkup, answerCallbackQuery, setMyCommands,
  deleteMyCommands, getChatMember, getFile, deleteWebhook, close, logOut;
  anything else answers 404 like the real server; files are downloaded from
  ``/file/bot<token>/<file_path>`` (recorded as a ``download`` call);
- it checks what Telegram checks and we rely on: the token (401 otherwise),
  text length (at most 4096 characters after HTML parsing), HTML that parses
  (a stray ``<`` or ``&`` is a 400 "can't parse entities"), callback data of
  at most 64 bytes, "message is not modified" on a no-op edit;
- every call is recorded (`calls`) with its params, decoded from a form body
  (what PTB sends: JSON values as strings) or a JSON body;
- tests inject updates (`channel_post`, `group_message`, `private_message`,
  `press`, `photo_message`, `document_message`, or any dict with `push`;
  `redeliver` sends a confirmed one again)
  and script failures (`fail`: e.g. 429 with ``retry_after``, 409 Conflict on
  getUpdates, 403 Forbidden).

Updates are delivered whatever ``allowed_updates`` says (so tests can prove
our own filters); `Call.params` shows what was asked for. The server never
sends a bot its own messages back, as Telegram does not.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote

TOKEN = "123456789:AAFakeTokenForTestsOnly_Zq9XwV3"
BOT_ID = 123456789
BOT_USERNAME = "grouppilot_test_bot"

_JSON_PARAMS = frozenset(
    {
        "reply_markup",
        "reply_parameters",
        "link_preview_options",
        "allowed_updates",
        "commands",
        "scope",
        "entities",
    }
)
_INT_PARAMS = frozenset({"chat_id", "message_id", "user_id", "offset", "timeout", "limit"})
_TAG = re.compile(r"</?([a-zA-Z-]+)(\s[^<>]*)?>")
_ENTITY = re.compile(r"&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")
_ALLOWED_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre", "tg-spoiler"}
)


@dataclass
class Call:
    """One request the bot made: method, decoded params, the HTTP status answered."""

    method: str
    params: dict[str, Any]
    status: int = 200
    at: float = field(default_factory=time.monotonic)


@dataclass
class _Failure:
    status: int
    description: str
    parameters: dict[str, Any] | None
    times: int


def user(user_id: int, username: str | None = None, first_name: str = "Test") -> dict[str, Any]:
    """A Bot API `User` object."""
    found: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
    if username:
        found["username"] = username
    return found


def _parse_html(text: str) -> str | None:
    """The plain text Telegram would show for `text` in HTML mode, or None if invalid."""
    plain = []
    position = 0
    for match in _TAG.finditer(text):
        if match.group(1).lower() not in _ALLOWED_TAGS:
            return None
        plain.append(text[position : match.start()])
        position = match.end()
    plain.append(text[position:])
    joined = "".join(plain)
    if "<" in joined or ">" in joined or "&" in _ENTITY.sub("", joined):
        return None
    return html.unescape(joined)


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class _ApiError(Exception):
    def __init__(
        self, status: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


class FakeBotApi:
    """The fake server and its state; use as a context manager."""

    def __init__(
        self,
        token: str = TOKEN,
        *,
        bot_id: int = BOT_ID,
        bot_username: str = BOT_USERNAME,
        max_wait: float = 0.5,
    ) -> None:
        self.token = token
        self.bot = {
            "id": bot_id,
            "is_bot": True,
            "first_name": "grouppilot",
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.max_wait = max_wait
        self._lock = threading.Condition()
        self._calls: list[Call] = []
        self._updates: list[dict[str, Any]] = []
        self._delivered: list[dict[str, Any]] = []  # every update ever pushed
        self._update_ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._chats: dict[int, dict[str, Any]] = {}
        self._admins: dict[int, set[int]] = {}
        self._failures: dict[str, list[_Failure]] = {}
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}  # the bot's own messages
        self._files: dict[str, tuple[bytes, int]] = {}  # file id -> (content, stated size)
        self._file_ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------

    def start(self) -> FakeBotApi:
        server = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            self._lock.notify_all()

    def __enter__(self) -> FakeBotApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/bot"

    # -- the world ----------------------------------------------------------------

    def add_chat(self, chat_id: int, kind: str, title: str | None = None) -> dict[str, Any]:
        """Declare a chat: kind is channel, supergroup, group or private."""
        chat: dict[str, Any] = {"id": chat_id, "type": kind}
        if kind == "private":
            chat["first_name"] = title or "Someone"
        else:
            chat["title"] = title or f"Chat {chat_id}"
        with self._lock:
            self._chats[chat_id] = chat
        return chat

    def set_admins(self, chat_id: int, user_ids: list[int]) -> None:
        """Who getChatMember reports as an administrator of `chat_id`."""
        with self._lock:
            self._admins[chat_id] = set(user_ids)

    def chat(self, chat_id: int) -> dict[str, Any]:
        with self._lock:
            found = self._chats.get(chat_id)
        if found is not None:
            return found
        return self.add_chat(chat_id, "private" if chat_id > 0 else "supergroup")

    # -- injecting updates --------------------------------------------------------

    def push(self, update: dict[str, Any]) -> int:
        """Queue an update (``update_id`` is assigned); returns the id."""
        with self._lock:
            update_id = next(self._update_ids)
            self._updates.append({"update_id": update_id, **update})
            self._delivered.append(self._updates[-1])
            self._lock.notify_all()
        return update_id

    def redeliver(self, update_id: int) -> None:
        """Send an already confirmed update again, as Telegram does when the bot died
        between fetching it and confirming it."""
        with self._lock:
            [update] = [u for u in self._delivered if u["update_id"] == update_id]
            self._updates.insert(0, update)
            self._lock.notify_all()

    def _message(self, chat_id: int, text: str, **extra: Any) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat_id),
            "date": int(time.time()),
            "chat": self.chat(chat_id),
            "text": text,
            **extra,
        }
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": _utf16_len(command)}
            ]
        return message

    def channel_post(
        self, chat_id: int, text: str, *, signature: str | None = None, edited: bool = False
    ) -> dict[str, Any]:
        """A post in a channel (no sender user; maybe an author signature)."""
        chat = self.chat(chat_id)
        extra: dict[str, Any] = {"sender_chat": chat}
        if signature:
            extra["author_signature"] = signature
        if edited:
            extra["edit_date"] = int(time.time())
        message = self._message(chat_id, text, **extra)
        self.push({"edited_channel_post" if edited else "channel_post": message})
        return message

    def group_message(
        self, chat_id: int, sender: dict[str, Any], text: str, *, edited: bool = False, **extra: Any
    ) -> dict[str, Any]:
        """A message by `sender` (a `user(...)` dict) in a group."""
        message = self._message(chat_id, text, **{"from": sender, **extra})
        if edited:
            message["edit_date"] = int(time.time())
        self.push({"edited_message" if edited else "message": message})
        return message

    def private_message(self, sender: dict[str, Any], text: str) -> dict[str, Any]:
        """A message by `sender` in their private chat with the bot."""
        self.add_chat(sender["id"], "private", sender.get("first_name"))
        return self.group_message(sender["id"], sender, text)

    def add_file(self, data: bytes, *, file_size: int | None = None) -> dict[str, Any]:
        """Keep `data` as a file; its `file_id` and stated `file_size` (default: the real one)."""
        number = next(self._file_ids)
        file_id = f"file{number}"
        size = len(data) if file_size is None else file_size
        with self._lock:
            self._files[file_id] = (data, size)
        return {"file_id": file_id, "file_unique_id": f"u{number}", "file_size": size}

    def photo_message(
        self,
        chat_id: int,
        sender: dict[str, Any] | None,
        caption: str,
        data: bytes,
        *,
        file_size: int | None = None,
    ) -> dict[str, Any]:
        """A photo captioned `caption` (a channel post when `sender` is None).

        Telegram sends every size it made, smallest first; the last is `data`.
        """
        thumbnail = {**self.add_file(b"thumb"), "width": 90, "height": 90}
        full = {**self.add_file(data, file_size=file_size), "width": 1280, "height": 960}
        return self._file_message(chat_id, sender, caption, photo=[thumbnail, full])

    def document_message(
        self,
        chat_id: int,
        sender: dict[str, Any] | None,
        caption: str,
        data: bytes,
        *,
        mime_type: str = "application/pdf",
        file_name: str = "offer.pdf",
        file_size: int | None = None,
    ) -> dict[str, Any]:
        """A document captioned `caption` (a channel post when `sender` is None)."""
        document = {
            **self.add_file(data, file_size=file_size),
            "mime_type": mime_type,
            "file_name": file_name,
        }
        return self._file_message(chat_id, sender, caption, document=document)

    def _file_message(
        self, chat_id: int, sender: dict[str, Any] | None, caption: str, **media: Any
    ) -> dict[str, Any]:
        chat = self.chat(chat_id)
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat_id),
            "date": int(time.time()),
            "chat": chat,
            "caption": caption,
            **media,
        }
        if caption.startswith("/"):
            command = caption.split(maxsplit=1)[0]
            message["caption_entities"] = [
                {"type": "bot_command", "offset": 0, "length": _utf16_len(command)}
            ]
        if sender is None:
            message["sender_chat"] = chat
            self.push({"channel_post": message})
        else:
            message["from"] = sender
            self.push({"message": message})
        return message

    def press(self, presser: dict[str, Any], message: dict[str, Any], data: str) -> str:
        """`presser` presses the button with `data` under the bot's `message`."""
        query_id = f"cq{next(self._update_ids)}"
        with self._lock:
            current = self.messages.get((message["chat"]["id"], message["message_id"]), message)
        self.push(
            {
                "callback_query": {
                    "id": query_id,
                    "from": presser,
                    "chat_instance": f"ci{message['chat']['id']}",
                    "message": current,
                    "data": data,
                }
            }
        )
        return query_id

    # -- scripted failures --------------------------------------------------------

    def fail(
        self,
        method: str,
        *,
        status: int,
        description: str,
        retry_after: float | None = None,
        times: int = 1,
    ) -> None:
        """The next `times` calls of `method` answer with this error."""
        parameters = {"retry_after": retry_after} if retry_after is not None else None
        with self._lock:
            self._failures.setdefault(method, []).append(
                _Failure(status, description, parameters, times)
            )

    # -- observing ----------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def sent(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """The bot's messages (current state, edits applied), oldest first."""
        with self._lock:
            return [
                m for (chat, _), m in self.messages.items() if chat_id is None or chat == chat_id
            ]

    def pending_updates(self) -> int:
        with self._lock:
            return len(self._updates)

    # -- the server side ----------------------------------------------------------

    def _next_message_id(self, chat_id: int) -> int:
        with self._lock:
            counter = self._message_ids.setdefault(chat_id, itertools.count(1))
            return next(counter)

    def handle(self, token: str, method: str, params: dict[str, Any]) -> tuple[int, Any]:
        """Answer one call: (HTTP status, body)."""
        call = Call(method, params)
        with self._lock:
            self._calls.append(call)
        try:
            if token != self.token:
                raise _ApiError(401, "Unauthorized")
            self._scripted_failure(method)
            result = self._dispatch(method, params)
        except _ApiError as exc:
            call.status = exc.status
            body: dict[str, Any] = {
                "ok": False,
                "error_code": exc.status,
                "description": exc.description,
            }
            if exc.parameters:
                body["parameters"] = exc.parameters
            return exc.status, body
        return 200, {"ok": True, "result": result}

    def _scripted_failure(self, method: str) -> None:
        with self._lock:
            queue = self._failures.get(method)
            if not queue:
                return
            failure = queue[0]
            failure.times -= 1
            if failure.times <= 0:
                queue.pop(0)
        raise _ApiError(failure.status, failure.description, failure.parameters)

    def _dispatch(self, method: str, params: dict[str, Any]) -> Any:
        handler: Callable[[dict[str, Any]], Any] | None = getattr(
            self, f"_api_{method.lower()}", None
        )
        if handler is None:
            raise _ApiError(404, "Not Found")
        return handler(params)

    def _api_getme(self, params: dict[str, Any]) -> Any:
        return self.bot

    def _api_deletewebhook(self, params: dict[str, Any]) -> Any:
        if params.get("drop_pending_updates") in (True, "true", "True"):
            with self._lock:
                self._updates.clear()
        return True

    def _api_setmycommands(self, params: dict[str, Any]) -> Any:
        if not params.get("commands"):
            raise _ApiError(400, "Bad Request: commands must be non-empty")
        return True

    def _api_deletemycommands(self, params: dict[str, Any]) -> Any:
        return True

    def _api_getupdates(self, params: dict[str, Any]) -> Any:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        limit = int(params.get("limit") or 100)
        deadline = time.monotonic() + min(timeout, self.max_wait)
        with self._lock:
            if offset:  # confirms what came before, when the request arrives (as Telegram)
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            while True:
                if self._updates:
                    return self._updates[:limit]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self._lock.wait(remaining)

    def _api_getfile(self, params: dict[str, Any]) -> Any:
        file_id = str(params.get("file_id", ""))
        with self._lock:
            found = self._files.get(file_id)
        if found is None:
            raise _ApiError(400, "Bad Request: invalid file_id")
        _, size = found
        if size > 20 * 1024 * 1024:  # what a bot may download, as Telegram says it
            raise _ApiError(400, "Bad Request: file is too big")
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": size,
            "file_path": f"files/{file_id}",
        }

    def download(self, token: str, path: str) -> bytes | None:
        """The content of the file at `path` (None: no such file, or a wrong token)."""
        with self._lock:
            self._calls.append(Call("download", {"path": path}))
            found = self._files.get(path.removeprefix("files/"))
        if token != self.token or found is None:
            return None
        return found[0]

    def _checked_text(self, params: dict[str, Any]) -> str:
        text = str(params.get("text", ""))
        if params.get("parse_mode") == "HTML":
            parsed = _parse_html(text)
            if parsed is None:
                raise _ApiError(400, "Bad Request: can't parse entities: unsupported start tag")
            text = parsed
        if not text.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        if _utf16_len(text) > 4096:
            raise _ApiError(400, "Bad Request: message is too long")
        return text

    @staticmethod
    def _check_markup(markup: Any) -> None:
        for row in (markup or {}).get("inline_keyboard", []):
            for button in row:
                if len(button.get("callback_data", "").encode()) > 64:
                    raise _ApiError(400, "Bad Request: BUTTON_DATA_INVALID")

    def _api_sendmessage(self, params: dict[str, Any]) -> Any:
        chat_id = int(params["chat_id"])
        text = self._checked_text(params)
        self._check_markup(params.get("reply_markup"))
        chat = self.chat(chat_id)
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat_id),
            "date": int(time.time()),
            "chat": chat,
            "text": text,
        }
        if chat["type"] == "channel":
            message["sender_chat"] = chat
        else:
            message["from"] = self.bot
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        reply_to = (params.get("reply_parameters") or {}).get("message_id")
        if reply_to is not None:
            message["reply_to_message_id"] = reply_to  # for tests; PTB ignores unknown keys
        with self._lock:
            self.messages[(chat_id, message["message_id"])] = message
        return message

    def _stored(self, params: dict[str, Any]) -> dict[str, Any]:
        key = (int(params["chat_id"]), int(params["message_id"]))
        with self._lock:
            message = self.messages.get(key)
        if message is None:
            raise _ApiError(400, "Bad Request: message to edit not found")
        return message

    def _api_editmessagetext(self, params: dict[str, Any]) -> Any:
        message = self._stored(params)
        text = self._checked_text(params)
        markup = params.get("reply_markup")
        self._check_markup(markup)
        if text == message["text"] and markup == message.get("reply_markup"):
            raise _ApiError(400, "Bad Request: message is not modified")
        with self._lock:
            message["text"] = text
            message["edit_date"] = int(time.time())
            if markup:
                message["reply_markup"] = markup
            else:  # an edit without reply_markup removes the inline keyboard
                message.pop("reply_markup", None)
        return message

    def _api_editmessagereplymarkup(self, params: dict[str, Any]) -> Any:
        message = self._stored(params)
        markup = params.get("reply_markup")
        if markup == message.get("reply_markup"):
            raise _ApiError(400, "Bad Request: message is not modified")
        with self._lock:
            if markup:
                message["reply_markup"] = markup
            else:
                message.pop("reply_markup", None)
        return message

    def _api_answercallbackquery(self, params: dict[str, Any]) -> Any:
        if len(str(params.get("text", ""))) > 200:
            raise _ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        return True

    def _api_getchatmember(self, params: dict[str, Any]) -> Any:
        chat_id, user_id = int(params["chat_id"]), int(params["user_id"])
        with self._lock:
            is_admin = user_id in self._admins.get(chat_id, set())
        member = user(user_id)
        if not is_admin:
            return {"status": "member", "user": member}
        rights = [
            "can_be_edited",
            "is_anonymous",
            "can_manage_chat",
            "can_delete_messages",
            "can_manage_video_chats",
            "can_restrict_members",
            "can_promote_members",
            "can_change_info",
            "can_invite_users",
            "can_post_stories",
            "can_edit_stories",
            "can_delete_stories",
        ]
        return {"status": "administrator", "user": member, **dict.fromkeys(rights, False)}


def _decode(params: dict[str, Any]) -> dict[str, Any]:
    decoded: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, str) and key in _JSON_PARAMS:
            value = json.loads(value)
        elif isinstance(value, str) and key in _INT_PARAMS and value.lstrip("-").isdigit():
            value = int(value)  # not "@channelusername"
        elif isinstance(value, str) and value in ("true", "false"):
            value = value == "true"
        decoded[key] = value
    return decoded


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up mid-request (the bot stopped polling) is not news


def _handler_for(api: FakeBotApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out as two writes: with Nagle's algorithm on, the
        # body waits for the client's delayed ACK (about 40 ms per request).
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            self._serve()

        def do_GET(self) -> None:
            self._serve()

        def _serve(self) -> None:
            download = re.fullmatch(r"/file/bot([^/]+)/(.+)", self.path)
            if download is not None:
                self._file(api.download(unquote(download.group(1)), unquote(download.group(2))))
                return
            match = re.fullmatch(r"/bot([^/]+)/([A-Za-z]+)(\?.*)?", self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if match is None:
                self._answer(404, {"ok": False, "error_code": 404, "description": "Not Found"})
                return
            kind = self.headers.get("Content-Type", "")
            if "json" in kind:
                params = json.loads(raw or b"{}")
            else:
                params = {k: v[-1] for k, v in parse_qs(raw.decode()).items()}
            status, body = api.handle(match.group(1), match.group(2), _decode(params))
            self._answer(status, body)

        def _file(self, data: bytes | None) -> None:
            try:
                self.send_response(200 if data is not None else 404)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data or b"")))
                self.end_headers()
                self.wfile.write(data or b"")
            except (BrokenPipeError, ConnectionResetError):
                pass

        def _answer(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the bot stopped polling while we waited

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the tests read `calls`, not a log

    return Handler


async def eventually(
    check: Callable[[], Any], *, timeout: float = 5.0, interval: float = 0.005
) -> Any:
    """Poll `check` until it returns something truthy (which is returned); bounded."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s: {check}")
        await asyncio.sleep(interval)
