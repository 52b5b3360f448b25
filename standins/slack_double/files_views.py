"""Key hygiene's surfaces: the external upload flow (files.getUploadURLExternal, the upload URL,
files.completeUploadExternal), views.publish (the Home tab) and deactivated members."""

from __future__ import annotations

import itertools
import json
from typing import Any

from standins.slack_double.base import DoubleCore
from standins.slack_double.constants import UPLOAD_PATH
from standins.slack_double.records import PublishedView, Reply, UploadedFile
from standins.slack_double.refusals import _require, _SlackError


class FilesAndViews(DoubleCore):
    """Uploaded files, published Home tabs and deactivated members."""

    # -- files, views and deactivated members (key hygiene) ------------------------------------

    def _init_files_and_views(self) -> None:
        """State and methods for the external upload flow, views.publish and deactivated members."""
        self._deactivated: set[str] = set()
        self._file_ids = itertools.count(1)
        self._files: dict[str, UploadedFile] = {}
        self._views: list[PublishedView] = []
        self._methods.update(
            {
                "files.getUploadURLExternal": self._files_get_upload_url_external,
                "files.completeUploadExternal": self._files_complete_upload_external,
                "views.publish": self._views_publish,
            }
        )

    def deactivate_user(self, user_id: str) -> None:
        """Make users.info (and users.lookupByEmail) describe this member as deactivated (deleted)."""
        with self._lock:
            self._deactivated.add(user_id)

    @property
    def uploads(self) -> list[UploadedFile]:
        """Files whose bytes were uploaded, in the order their upload URLs were handed out."""
        with self._lock:
            return [f for f in self._files.values() if f.data is not None]

    def views(self, user_id: str | None = None) -> list[PublishedView]:
        """Views published with views.publish, optionally for one member, oldest first."""
        with self._lock:
            return [v for v in self._views if user_id is None or v.user_id == user_id]

    def _files_get_upload_url_external(self, args: dict[str, Any]) -> dict[str, Any]:
        """Hand out an upload URL on this double for a file of `length` bytes."""
        filename = str(_require(args, "filename", "invalid_arguments"))
        try:
            length = int(_require(args, "length", "invalid_arguments"))
        except ValueError:
            raise _SlackError("invalid_arguments") from None
        with self._lock:
            file_id = f"F{next(self._file_ids):08d}"
            self._files[file_id] = UploadedFile(file_id, filename, length)
        return {"upload_url": f"{self.origin}{UPLOAD_PATH}{file_id}", "file_id": file_id}

    def _answer_upload(self, file_id: str, verb: str, raw: bytes) -> Reply:
        """Take a file's bytes at its upload URL, once, and only as many as announced."""
        with self._lock:
            pending = self._files.get(file_id)
            if verb != "POST" or pending is None:
                return Reply(404, "not_found")
            if pending.data is not None or len(raw) != pending.length:
                return Reply(400, "bad_upload")
            pending.data = raw
        return Reply(200, f"OK - {len(raw)}")

    def _files_complete_upload_external(self, args: dict[str, Any]) -> dict[str, Any]:
        """Share uploaded files into channel_id; each must have been uploaded first."""
        raw_files = _require(args, "files", "invalid_arguments")
        try:
            files = json.loads(raw_files) if isinstance(raw_files, str) else raw_files
        except json.JSONDecodeError:
            raise _SlackError("invalid_arguments") from None
        if not isinstance(files, list) or not files:
            raise _SlackError("invalid_arguments")
        shared = []
        with self._lock:
            for item in files:
                uploaded = self._files.get(str(item.get("id")))
                if uploaded is None or uploaded.data is None:
                    raise _SlackError("file_not_found")
                uploaded.title = str(item.get("title") or uploaded.filename)
                uploaded.channel = args.get("channel_id") or args.get("channels")
                uploaded.initial_comment = args.get("initial_comment")
                shared.append({"id": uploaded.file_id, "name": uploaded.filename, "title": uploaded.title})
        return {"files": shared}

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        """Record a Home tab view published for a member."""
        user_id = str(_require(args, "user_id", "invalid_arguments"))
        view = _require(args, "view", "invalid_arguments")
        try:
            parsed = json.loads(view) if isinstance(view, str) else view
        except json.JSONDecodeError:
            raise _SlackError("invalid_arguments") from None
        if not isinstance(parsed, dict) or parsed.get("type") != "home" or len(parsed.get("blocks") or []) > 100:
            raise _SlackError("invalid_arguments")
        with self._lock:
            self._views.append(PublishedView(user_id, parsed))
        return {"view": {"id": f"V{len(self._views):08d}", "type": "home", "blocks": parsed.get("blocks", [])}}
