"""The two HTML pages of the sandbox authorization server: device activation and browser consent.

Plain HTML forms (no script), every value escaped; the sandbox console's look is not needed to approve a code.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 32rem; margin: 4rem auto; padding: 0 1rem; color: #222; }
h1 { font-size: 1.4rem; } .error { color: #b00020; } .done { color: #1b5e20; }
label { display: block; margin: 1rem 0 .3rem; }
input[type=text], input[type=password] { font-size: 1.1rem; padding: .4rem; width: 100%; }
button { font-size: 1rem; padding: .5rem 1.2rem; margin: 1rem .5rem 0 0; }
"""
# The sandbox's Content-Security-Policy allows this one inline style by its digest, and nothing else inline.
STYLE_HASH = "sha256-" + base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{style}</style></head>
<body><h1>{title}</h1>
{body}
</body></html>
"""

_OPERATOR_FIELD = """<label for="operator_secret">Operator secret</label>
<input type="password" id="operator_secret" name="operator_secret" autocomplete="current-password" required>
<p><small>Only the person running the sandbox has it: <code>flyrun sandbox operator-secret</code> shows it.</small></p>
"""


def activate_page(user_code: str, *, error: str | None = None, done: str | None = None, status: int = 200):
    """``/activate``: enter the code shown by ``flyrun auth login``, then approve or deny it."""
    if done:
        body = (f'<p class="done" id="result">Device {escape(done)}. You can close this window and return to '
                "your terminal.</p>")
        return _html("Device sign-in", body, status)
    notice = f'<p class="error" id="error">{escape(error)}</p>' if error else ""
    body = f"""{notice}<p>Enter the code shown in your terminal to let it sign in to this Flyte sandbox.</p>
<form method="post" action="/activate">
<label for="user_code">Code</label>
<input type="text" id="user_code" name="user_code" value="{escape(user_code)}" autocomplete="off" required>
<label for="subject">Sign in as</label>
<input type="text" id="subject" name="subject" value="sandbox-user">
{_OPERATOR_FIELD}<button type="submit" name="decision" value="approve" id="approve">Approve</button>
<button type="submit" name="decision" value="deny" id="deny">Deny</button>
</form>"""
    return _html("Device sign-in", body, status)


def consent_page(action: str, *, client_id: str = "", error: str | None = None, status: int = 200,
                 notice: str | None = None):
    """``/oauth2/authorize``: the browser half of a PKCE sign-in."""
    if error:
        return _html("Sign-in failed", f'<p class="error" id="error">{escape(error)}</p>', status)
    shown = f'<p class="error" id="error">{escape(notice)}</p>' if notice else ""
    body = f"""{shown}<p>The application <strong>{escape(client_id)}</strong> asks to sign in to this Flyte sandbox.</p>
<form method="post" action="{escape(action)}">
<label for="subject">Sign in as</label>
<input type="text" id="subject" name="subject" value="sandbox-user">
{_OPERATOR_FIELD}<button type="submit" name="decision" value="approve" id="approve">Approve</button>
<button type="submit" name="decision" value="deny" id="deny">Deny</button>
</form>"""
    return _html("Sign in", body, status)


def _html(title: str, body: str, status: int):
    from werkzeug.wrappers import Response

    return Response(_PAGE.format(title=escape(title), style=_STYLE, body=body), status=status, mimetype="text/html",
                    headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"})
