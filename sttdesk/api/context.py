"""What the API's handlers share: the core, the uploads folder, the webhook notifier."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from .errors import PathScrubber
from .uploads import UploadArea
from .webhooks import WebhookNotifier

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ApiContext:
    """The objects behind one API app; :meth:`close` stops what it started."""

    #: The running sttdesk core (``sttdesk.app.Core``): service, store, models, coordinator, settings, paths.
    core: Any
    uploads: UploadArea
    notifier: WebhookNotifier
    #: Removes the server's folders from error messages.
    scrub: PathScrubber
    #: Largest upload accepted, in bytes.
    max_upload_bytes: int
    _cleanups: list[Callable[[], None]] = field(default_factory=list, repr=False)
    _closed: bool = field(default=False, repr=False)

    def on_close(self, cleanup: Callable[[], None]) -> None:
        self._cleanups.append(cleanup)

    def close(self) -> None:
        """Stop the notifier and event subscriptions (idempotent)."""
        if self._closed:
            return
        self._closed = True
        for cleanup in reversed(self._cleanups):
            try:
                cleanup()
            except Exception:
                log.exception("closing the REST API failed")
        self.notifier.close()


def get_context(request: Request) -> ApiContext:
    """The context of the app serving ``request``."""
    return request.app.state.sttdesk
