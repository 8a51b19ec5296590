"""The back office (flask-admin). It imports onestop, never the reverse.

For now an empty mount; views arrive with the back-office work. Views hold configuration only
and delegate every write to onestop.services.
"""

from flask_admin import Admin


def init_app(app):
    admin = Admin(app, name="onestop", url="/admin")
    app.extensions["onestop.admin"] = admin
    return admin
