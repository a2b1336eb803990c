"""``flyrun auth login|status|logout|token``: sign in to ``admin.endpoint`` and manage the stored tokens.

``auth token`` is the one place a token is ever printed (on stdout, for scripts).
"""

from __future__ import annotations

import time

import click

from flyrun.cli.app import Application
from flyrun.cli.options import global_options


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@global_options
def auth() -> None:
    """Sign in to admin.endpoint, show or remove stored tokens."""


@auth.command()
@global_options
@click.pass_obj
def login(app: Application) -> None:
    """Sign in with admin.authType (DeviceFlow prints a URL and a code: no browser needed here)."""
    from flyrun.remote.auth.account import server_needs_no_sign_in, sign_in

    with app.admin_session() as session:
        if server_needs_no_sign_in(session):
            _render_open(app, session.endpoint)
            return
        status = sign_in(session)
    if app.json_output:
        app.print_json(status.as_json())
        return
    where = f"; tokens kept in {status.stored_in}" if status.stored_in else "; tokens kept in memory only"
    app.echo(f"Signed in to {status.endpoint}{_as_user(status.user)}{where}")


@auth.command()
@global_options
@click.pass_obj
def status(app: Application) -> None:
    """Show the endpoint, the signed-in user and the token's expiry (exit 4 when not signed in)."""
    from flyrun.errors import AuthError, ServerError
    from flyrun.remote.auth.account import account_status, auth_disabled, server_needs_no_sign_in

    with app.admin_session(interactive=False) as session:
        if auth_disabled(session):
            _render_disabled(app, session.endpoint)
            return
        try:
            state = account_status(session)
        except (AuthError, ServerError):
            # Not signed in (or no sign-in service to ask, HTTP 501): fine when the server takes requests
            # without a token (a sandbox without --auth).
            if not server_needs_no_sign_in(session):
                raise
            _render_open(app, session.endpoint)
            return
    if app.json_output:
        app.print_json({"signed_in": True, **state.as_json()})
        return
    rows = [("endpoint", state.endpoint), ("auth type", state.auth_type), ("user", _user_line(state.user)),
            ("expires", _expiry(state.expires_at)), ("stored in", state.stored_in or "memory only")]
    for label, value in rows:
        app.echo(f"{label + ':':<11} {value}")


@auth.command()
@global_options
@click.pass_obj
def logout(app: Application) -> None:
    """Remove the stored tokens for admin.endpoint."""
    from flyrun.remote.auth.account import sign_out

    with app.admin_session(interactive=False) as session:
        removed = sign_out(session)
        endpoint = session.endpoint
    if app.json_output:
        app.print_json({"endpoint": endpoint, "removed": removed})
    elif removed:
        app.echo(f"Signed out of {endpoint} (stored tokens removed)")
    else:
        app.echo(f"No stored tokens for {endpoint}")


@auth.command()
@global_options
@click.pass_obj
def token(app: Application) -> None:
    """Print a valid access token on stdout, for scripts that call the API themselves."""
    from flyrun.remote.auth.account import current_token

    with app.admin_session() as session:
        credentials = current_token(session, allow_login=app.env.interactive)
    if app.json_output:
        app.print_json({"access_token": credentials.access_token, "token_type": "Bearer",
                        "expires_at": credentials.expires_at})
    else:
        app.echo(credentials.access_token)


def _render_disabled(app: Application, endpoint: str) -> None:
    if app.json_output:
        app.print_json({"signed_in": False, "endpoint": endpoint, "auth_type": "None"})
    else:
        app.echo(f"endpoint:   {endpoint}\nauth type:  None (sign-in is off)")


def _render_open(app: Application, endpoint: str) -> None:
    if app.json_output:
        app.print_json({"signed_in": False, "endpoint": endpoint, "sign_in_needed": False})
    else:
        app.echo(f"{endpoint} needs no sign-in: it accepts requests without a token")


def _user_line(user: dict | None) -> str:
    if user is None:
        return "(the server has no /me)"
    name = user.get("preferred_username") or user.get("name") or user.get("subject") or "?"
    return name + (f" <{user['email']}>" if user.get("email") else "")


def _as_user(user: dict | None) -> str:
    if not user:
        return ""
    name = user.get("preferred_username") or user.get("name") or user.get("subject")
    return f" as {name}" if name else ""


def _expiry(expires_at: float | None) -> str:
    if expires_at is None:
        return "unknown (the server did not say)"
    left = expires_at - time.time()
    stamp = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(expires_at))
    if left <= 0:
        return f"{stamp} (expired)"
    minutes, seconds = divmod(int(left), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{stamp} (in {f'{hours} h ' if hours else ''}{minutes} min {seconds} s)"
