"""Web layer: blueprints by audience (portal for citizens, desk for officers, the REST API, public
pages) and what they share: languages, sessions, sign-in, forms, error pages."""

from . import (
    api,
    args,
    assets,
    auth,
    bodies,
    citizen,
    counter,
    desk,
    diagram,
    errors,
    external_tasks,
    formpage,
    i18n,
    markup,
    payment,
    portal,
    public,
    queue,
    security,
    sessions,
    spot,
    verify,
)


def init_app(app):
    errors.init_app(app)
    bodies.init_app(app)
    errors.cap_uploads(app)  # around bodies' request class
    args.init_app(app)  # before the blueprints: their routes use its converters
    sessions.init_app(app)
    security.init_app(app)
    assets.init_app(app)
    i18n.init_app(app)
    markup.init_app(app)
    formpage.init_app(app)
    diagram.init_app(app)
    auth.init_app(app)
    app.register_blueprint(public.bp)
    app.register_blueprint(verify.bp)
    app.register_blueprint(portal.bp)
    app.register_blueprint(payment.bp)
    app.register_blueprint(citizen.bp)
    app.register_blueprint(desk.bp, url_prefix="/desk")
    app.register_blueprint(counter.bp, url_prefix="/desk/counter")
    app.register_blueprint(queue.bp, url_prefix="/queue")
    app.register_blueprint(spot.bp, url_prefix="/desk")
    app.register_blueprint(api.bp, url_prefix="/api/v1")
    app.register_blueprint(external_tasks.bp, url_prefix="/api/v1")
