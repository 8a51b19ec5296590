"""Web layer: blueprints by audience (api, public; portal and desk come next) and error pages."""

from . import api, errors, public, sessions


def init_app(app):
    errors.init_app(app)
    sessions.init_app(app)
    app.register_blueprint(public.bp)
    app.register_blueprint(api.bp, url_prefix="/api/v1")
