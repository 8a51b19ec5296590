"""The cookie session, opened only for requests that carry one, and never saved for the REST API.

Flask builds a signing serializer for every request to read a session cookie that API clients
never send (about 0.1 ms of CPU per request, a few per cent of a submission). A request without
the cookie gets an empty session straight away; signing still happens when one is saved.

The REST API (bearer tokens) never uses the session: its answers neither set a cookie nor say
`Vary: Cookie` (Flask-Login's remember-me hook reads the session on every answer, which made Flask
add that header and work out the cookie's domain and path each time).
"""

from flask import request
from flask.sessions import SecureCookieSessionInterface

API_BLUEPRINTS = frozenset({"api", "external_task"})


class LazyCookieSessionInterface(SecureCookieSessionInterface):
    def open_session(self, app, request):
        """An empty session for a request without the session cookie (no Cookie header at all, the API's
        case, is known without parsing the cookies: ~20 k instructions), else Flask's."""
        if app.secret_key and ("HTTP_COOKIE" not in request.environ
                               or not request.cookies.get(self.get_cookie_name(app))):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app, session, response):
        if not session.modified and request._get_current_object().blueprint in API_BLUEPRINTS:
            return
        super().save_session(app, session, response)


def init_app(app):
    app.session_interface = LazyCookieSessionInterface()
