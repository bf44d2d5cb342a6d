"""The default mail backend while no mail server is set: .eml files."""

import logging
import os
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage
from django.utils import timezone

logger = logging.getLogger(__name__)


class EmlFileBackend(BaseEmailBackend):
    """Write each message as its own .eml file, readable by any mail client."""

    def __init__(self, *, file_path: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.directory = Path(file_path)

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        self.directory.mkdir(parents=True, exist_ok=True)
        sent = 0
        for message in email_messages:
            name = f"{timezone.now():%Y%m%d-%H%M%S}-{secrets.token_hex(4)}.eml"
            path = self.directory / name
            # Written under a temporary name and renamed, so a reader never
            # sees half a message.
            scratch = path.with_suffix(".part")
            scratch.write_bytes(message.message().as_bytes())
            os.replace(scratch, path)
            logger.info("no mail server is set; wrote the email to %s", path)
            sent += 1
        return sent
