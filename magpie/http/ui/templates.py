"""The few pages served as plain HTML forms (they work before any script loads):
sign up, log in, log out. Everything else is the single-page app."""

from __future__ import annotations

from html import escape

_STYLE = """
:root { color-scheme: light dark; --bg: #f6f6f3; --card: #fff; --fg: #1d1f27; --muted: #5b5f6b;
  --accent: #1d4aff; --border: #d8d9de; --danger: #b3261e; }
@media (prefers-color-scheme: dark) { :root { --bg: #15161a; --card: #1f2127; --fg: #ececf1;
  --muted: #a3a6b1; --accent: #7d98ff; --border: #363842; --danger: #ff8a80; } }
* { box-sizing: border-box; }
body { margin: 0; min-height: 100vh; display: grid; place-items: center; background: var(--bg);
  color: var(--fg); font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { width: min(380px, 92vw); background: var(--card); border: 1px solid var(--border);
  border-radius: 10px; padding: 28px; }
h1 { font-size: 1.35rem; margin: 0 0 4px; }
p { color: var(--muted); margin: 0 0 18px; }
label { display: block; font-weight: 600; margin: 14px 0 4px; }
input { width: 100%; padding: 9px 10px; border: 1px solid var(--border); border-radius: 6px;
  font: inherit; background: var(--bg); color: var(--fg); }
input:focus, button:focus-visible { outline: 2px solid var(--accent); outline-offset: 1px; }
button { margin-top: 20px; width: 100%; padding: 10px; border: 0; border-radius: 6px;
  background: var(--accent); color: #fff; font: inherit; font-weight: 600; cursor: pointer; }
.error { color: var(--danger); margin: 12px 0 0; font-weight: 600; }
.brand { display: flex; align-items: center; gap: 8px; margin-bottom: 16px; font-weight: 700; }
"""

_LOGO = (
    '<svg width="22" height="22" viewBox="0 0 32 32" aria-hidden="true">'
    '<circle cx="16" cy="16" r="15" fill="#1d1f27"/><path d="M9 21 L16 9 L23 21 Z" fill="#fff"/>'
    '<circle cx="16" cy="17" r="3" fill="#1d4aff"/></svg>'
)


def page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} · Magpie</title>"
        '<link rel="icon" href="/favicon.svg" type="image/svg+xml">'
        f"<style>{_STYLE}</style></head><body><main>"
        f'<div class="brand">{_LOGO}<span>Magpie</span></div>{body}</main></body></html>'
    )


def _error(message: str | None) -> str:
    return f'<p class="error" role="alert">{escape(message)}</p>' if message else ""


def _credentials_form(action: str, button: str, email: str, *, new_password: bool) -> str:
    autocomplete = "new-password" if new_password else "current-password"
    return (
        f'<form method="post" action="{escape(action)}">'
        '<label for="email">Email</label>'
        f'<input id="email" name="email" type="email" autocomplete="email" required '
        f'value="{escape(email)}" autofocus>'
        '<label for="password">Password</label>'
        f'<input id="password" name="password" type="password" autocomplete="{autocomplete}" '
        f'required minlength="{8 if new_password else 1}">'
        f'<button type="submit">{escape(button)}</button></form>'
    )


def signup_page(email: str = "", error: str | None = None) -> str:
    return page(
        "Sign up",
        "<h1>Create your account</h1>"
        "<p>You are the first person here: your account can see every project "
        "and add the people you work with.</p>"
        + _credentials_form("/signup", "Create account", email, new_password=True)
        + _error(error),
    )


def login_page(next_path: str, email: str = "", error: str | None = None) -> str:
    action = "/login" + (f"?next={escape(next_path, quote=True)}" if next_path != "/" else "")
    return page(
        "Log in",
        "<h1>Log in</h1><p>Welcome back.</p>"
        + _credentials_form(action, "Log in", email, new_password=False)
        + _error(error),
    )


def logout_page(csrf_token: str) -> str:
    return page(
        "Log out",
        "<h1>Log out?</h1><p>You will need your password to come back.</p>"
        '<form method="post" action="/logout">'
        f'<input type="hidden" name="csrf_token" value="{escape(csrf_token)}">'
        '<button type="submit">Log out</button></form>',
    )


def not_built_page() -> str:
    return page(
        "Web UI not built",
        "<h1>The web UI is not built</h1>"
        "<p>Run <code>make ui</code> (or <code>make serve</code>, which builds it when "
        "missing) and reload this page. The REST API works meanwhile.</p>",
    )
