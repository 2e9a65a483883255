"""In-memory state of the Box emulator, the JSON shapes of its objects and Box-style error answers.

Handlers run on the emulator's own event loop; tests set fault knobs from another thread, hence the lock.
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

HELP_URL = "https://developer.box.com/guides/api-calls/permissions-and-errors/common-errors/"
ROOT_FOLDER_ID = "0"
SERVICE_USER = {
    "type": "user",
    "id": "20000001",
    "name": "handover service account",
    "login": "AutomationUser_20000001@boxdevedition.com",
}


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def box_error(
    status: int,
    code: str,
    message: str,
    *,
    context_info: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """The ClientError body Box sends with every failed API call."""
    body: dict[str, Any] = {"type": "error", "status": status, "code": code, "message": message}
    if context_info is not None:
        body["context_info"] = context_info
    body["help_url"] = HELP_URL
    body["request_id"] = secrets.token_hex(8)
    return web.json_response(body, status=status, headers=headers)


def state_of(request: web.Request) -> BoxState:
    return request.app[STATE_KEY]


def select_fields(full: dict[str, Any], request: web.Request, mini_keys: tuple[str, ...]) -> dict[str, Any]:
    """Box answers only the mini representation plus the requested fields when ``fields`` is given."""
    fields = request.query.get("fields")
    if not fields:
        return full
    wanted = set(mini_keys) | {name.strip() for name in fields.split(",")}
    return {key: value for key, value in full.items() if key in wanted}


@dataclass
class Folder:
    id: str
    name: str
    parent_id: str | None
    created_at: str = field(default_factory=now_iso)


@dataclass
class StoredFile:
    id: str
    name: str
    parent_id: str
    size: int
    sha1: str
    blob: Path
    version_id: str
    created_at: str = field(default_factory=now_iso)
    trashed_at: str | None = None

    @property
    def item_status(self) -> str:
        return "active" if self.trashed_at is None else "trashed"


@dataclass
class Collaboration:
    id: str
    item_type: str
    item_id: str
    login: str
    user_id: str | None
    role: str
    created_at: str = field(default_factory=now_iso)
    modified_at: str = field(default_factory=now_iso)


@dataclass
class Part:
    part_id: str
    offset: int
    size: int
    sha1: str
    path: Path

    def as_json(self) -> dict[str, Any]:
        return {"part_id": self.part_id, "offset": self.offset, "size": self.size, "sha1": self.sha1}


@dataclass
class UploadSession:
    id: str
    folder_id: str
    file_name: str
    file_size: int
    part_size: int
    directory: Path
    expires_at: str
    parts: dict[int, Part] = field(default_factory=dict)

    @property
    def total_parts(self) -> int:
        return -(-self.file_size // self.part_size)


@dataclass
class Fault:
    """Answer the next ``remaining`` matching requests with ``status``; ``after_handling`` lets them act first."""

    remaining: int
    status: int
    retry_after: str | None
    method: str | None
    path: str | None
    after_handling: bool

    def matches(self, method: str, path: str, after_handling: bool) -> bool:
        return (
            self.remaining > 0
            and self.after_handling == after_handling
            and (self.method is None or self.method == method)
            and (self.path is None or self.path in path)
        )


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: str
    status: int
    body: Any
    headers: dict[str, str]


class BoxState:
    def __init__(
        self,
        storage: Path,
        *,
        client_id: str,
        client_secret: str,
        enterprise_id: str,
        part_size: int,
        token_ttl: int,
    ) -> None:
        self.storage = storage
        self.client_id = client_id
        self.client_secret = client_secret
        self.enterprise_id = enterprise_id
        self.part_size = part_size
        self.token_ttl = token_ttl
        self.lock = threading.Lock()
        self._ids = itertools.count(100_001)
        self.folders: dict[str, Folder] = {ROOT_FOLDER_ID: Folder(ROOT_FOLDER_ID, "All Files", None)}
        self.files: dict[str, StoredFile] = {}
        self.collaborations: dict[str, Collaboration] = {}
        self.sessions: dict[str, UploadSession] = {}
        self.users: dict[str, str] = {}
        self.tokens: dict[str, float] = {}
        self.tokens_issued = 0
        self.faults: list[Fault] = []
        self.expire_tokens_after: int | None = None
        # Network partition: once a request matching ``partition_after`` (method, path part) is handled, its
        # answer and every later request's connection are dropped until ``partitioned`` is cleared.
        self.partition_after: tuple[str | None, str | None] | None = None
        self.partitioned = False
        self.commit_polls = 0
        self.commit_retry_after = "1"
        self.requests: list[RecordedRequest] = []
        for sub in ("blobs", "sessions", "incoming"):
            (storage / sub).mkdir(parents=True, exist_ok=True)

    def new_id(self) -> str:
        return str(next(self._ids))

    def cut_off(self, method: str, path: str, *, handled: bool) -> bool:
        """Whether this request's connection is dropped (before handling, or after: the answer is lost)."""
        with self.lock:
            if self.partitioned:
                return True
            if handled and self.partition_after is not None:
                want_method, want_path = self.partition_after
                if (want_method is None or want_method == method) and (want_path is None or want_path in path):
                    self.partition_after = None
                    self.partitioned = True
                    return True
        return False

    def take_fault(self, method: str, path: str, *, after_handling: bool) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, path, after_handling):
                    fault.remaining -= 1
                    return fault
        return None

    def issue_token(self) -> tuple[str, int]:
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[token] = time.monotonic() + self.token_ttl
            self.tokens_issued += 1
        return token, self.token_ttl

    def token_valid(self, token: str) -> bool:
        with self.lock:
            if self.expire_tokens_after is not None:
                self.expire_tokens_after -= 1
                if self.expire_tokens_after < 0:
                    self.expire_tokens_after = None
                    self.tokens.clear()
            expiry = self.tokens.get(token)
            return expiry is not None and expiry > time.monotonic()

    def child_named(self, parent_id: str, name: str) -> Folder | StoredFile | None:
        """Box compares names case-insensitively; items in the trash do not block a name."""
        wanted = name.casefold()
        for folder in self.folders.values():
            if folder.parent_id == parent_id and folder.name.casefold() == wanted:
                return folder
        for stored in self.files.values():
            if stored.parent_id == parent_id and stored.trashed_at is None and stored.name.casefold() == wanted:
                return stored
        return None

    def name_in_use(self, item: Folder | StoredFile) -> web.Response:
        conflict = self.folder_mini(item) if isinstance(item, Folder) else self.file_mini(item)
        return box_error(
            409,
            "item_name_in_use",
            "Item with the same name already exists",
            context_info={"conflicts": [conflict]},
        )

    def add_file(self, name: str, parent_id: str, blob: Path, size: int, sha1: str) -> StoredFile:
        file_id = self.new_id()
        final = self.storage / "blobs" / file_id
        blob.replace(final)
        stored = StoredFile(file_id, name, parent_id, size, sha1, final, self.new_id())
        self.files[file_id] = stored
        return stored

    def path_collection(self, parent_id: str | None) -> dict[str, Any]:
        chain: list[dict[str, Any]] = []
        while parent_id is not None:
            folder = self.folders[parent_id]
            chain.insert(0, self.folder_mini(folder))
            parent_id = folder.parent_id
        return {"total_count": len(chain), "entries": chain}

    @staticmethod
    def folder_mini(folder: Folder) -> dict[str, Any]:
        return {"type": "folder", "id": folder.id, "sequence_id": "0", "etag": "0", "name": folder.name}

    @staticmethod
    def file_mini(stored: StoredFile) -> dict[str, Any]:
        return {
            "type": "file",
            "id": stored.id,
            "sequence_id": "0",
            "etag": "0",
            "name": stored.name,
            "sha1": stored.sha1,
            "file_version": {"type": "file_version", "id": stored.version_id, "sha1": stored.sha1},
        }

    def folder_full(self, folder: Folder) -> dict[str, Any]:
        children = [self.folder_mini(f) for f in self.folders.values() if f.parent_id == folder.id]
        children += [
            self.file_mini(f) for f in self.files.values() if f.parent_id == folder.id and f.trashed_at is None
        ]
        parent = self.folders.get(folder.parent_id) if folder.parent_id is not None else None
        return {
            **self.folder_mini(folder),
            "created_at": folder.created_at,
            "modified_at": folder.created_at,
            "description": "",
            "size": 0,
            "path_collection": self.path_collection(folder.parent_id),
            "created_by": SERVICE_USER,
            "modified_by": SERVICE_USER,
            "owned_by": SERVICE_USER,
            "trashed_at": None,
            "purged_at": None,
            "shared_link": None,
            "folder_upload_email": None,
            "parent": self.folder_mini(parent) if parent is not None else None,
            "item_status": "active",
            "item_collection": {
                "total_count": len(children),
                "entries": children[:100],
                "offset": 0,
                "limit": 100,
                "order": [{"by": "type", "direction": "ASC"}, {"by": "name", "direction": "ASC"}],
            },
        }

    def file_full(self, stored: StoredFile) -> dict[str, Any]:
        return {
            **self.file_mini(stored),
            "description": "",
            "size": stored.size,
            "path_collection": self.path_collection(stored.parent_id),
            "created_at": stored.created_at,
            "modified_at": stored.created_at,
            "content_created_at": stored.created_at,
            "content_modified_at": stored.created_at,
            "trashed_at": stored.trashed_at,
            "purged_at": None,
            "created_by": SERVICE_USER,
            "modified_by": SERVICE_USER,
            "owned_by": SERVICE_USER,
            "shared_link": None,
            "parent": self.folder_mini(self.folders[stored.parent_id]),
            "item_status": stored.item_status,
        }

    def collaboration_json(self, collab: Collaboration) -> dict[str, Any]:
        if collab.item_type == "folder":
            item = self.folder_mini(self.folders[collab.item_id])
        else:
            item = self.file_mini(self.files[collab.item_id])
        accepted = collab.user_id is not None
        grantee = {"type": "user", "id": collab.user_id, "name": collab.login, "login": collab.login}
        return {
            "type": "collaboration",
            "id": collab.id,
            "item": item,
            "accessible_by": grantee if accepted else None,
            "invite_email": None if accepted else collab.login,
            "role": collab.role,
            "expires_at": None,
            "is_access_only": False,
            "status": "accepted" if accepted else "pending",
            "acknowledged_at": collab.created_at if accepted else None,
            "created_by": SERVICE_USER,
            "created_at": collab.created_at,
            "modified_at": collab.modified_at,
        }


STATE_KEY = web.AppKey("box_state", BoxState)
