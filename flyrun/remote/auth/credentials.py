"""The tokens a sign-in yields. Their ``repr`` never shows a token, so a traceback cannot leak one."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Credentials:
    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: float | None = None  # seconds since the epoch; None when the server did not say
    issued_at: float | None = None  # known for tokens obtained in this process, not stored

    def expires_within(self, seconds: float, now: float | None = None) -> bool:
        if self.expires_at is None:
            return False
        return (time.time() if now is None else now) + seconds >= self.expires_at

    def refresh_due(self, window: float, now: float | None = None) -> bool:
        """Within ``window`` of expiry; for a token shorter-lived than the window, in its second half only
        (so a server issuing 30 s tokens with a 60 s window does not cause a refresh before every request)."""
        if self.issued_at is not None and self.expires_at is not None:
            window = min(window, (self.expires_at - self.issued_at) / 2)
        return self.expires_within(window, now)

    @classmethod
    def from_token_response(cls, body: dict[str, Any], previous_refresh_token: str | None = None,
                            now: float | None = None) -> Credentials:
        """From a token endpoint's JSON; a refresh response without a new refresh token keeps the old one."""
        now = time.time() if now is None else now
        expires_in = body.get("expires_in")
        try:
            expires_at = now + float(expires_in) if expires_in not in (None, "") else None
        except (TypeError, ValueError):
            expires_at = None
        return cls(access_token=str(body["access_token"]),
                   refresh_token=body.get("refresh_token") or previous_refresh_token,
                   expires_at=expires_at, issued_at=now)
