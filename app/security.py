"""The web shell's own defences: the secret, the proxies it trusts, cookies and security headers.

- SECRET_KEY: from the environment, else a random secret made once per install in instance/secret_key; a
  known default or a short secret refuses to start outside debug and tests (a guessable key forges sessions).
- ProxyFix trusts exactly TRUSTED_PROXIES proxies (0 by default): the audit address and the login throttle
  read the client's address, never a header a client can write.
- Cookies are Secure whenever the request came over HTTPS (or SESSION_COOKIE_SECURE=1).
- Headers: anti-framing (CSP frame-ancestors and X-Frame-Options), nosniff, a same-origin referrer, a CSP
  that Flask-Admin's own pages satisfy. Flask-Admin uses inline event handlers (bulk actions, delete
  confirmations), so scripts are limited to this origin plus inline, not to nonces; everything else is 'self'.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask, Response, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

WEAK_SECRETS = {"dev-only-not-secret", "secret", "changeme", "change-me", "dev", "development", "test"}
MIN_SECRET = 32
CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
       "base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


class InsecureSecret(RuntimeError):
    pass


def resolve_secret(app: Flask) -> None:
    key = app.config.get("SECRET_KEY")
    if not key:
        path = Path(app.config["SECRET_KEY_FILE"])
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
        key = path.read_text().strip()
    if not (app.debug or app.testing) and (key in WEAK_SECRETS or len(key) < MIN_SECRET):
        raise InsecureSecret("refusing to start: SECRET_KEY is a known default or shorter than 32 characters; "
                             "unset it to use instance/secret_key, or set a random one "
                             "(python -c 'import secrets; print(secrets.token_hex(32))')")
    app.config["SECRET_KEY"] = key


class SecureWhenHttps(SecureCookieSessionInterface):
    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


def install(app: Flask) -> None:
    resolve_secret(app)
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies)
    app.session_interface = SecureWhenHttps()
    app.after_request(security_headers)
