"""The back office's page of the national public service portal connection (issue 21): each
centre's sync health (status changes waiting, failed, the last one the portal took, the last
reconciliation, the procedure codes the portal pushed that no procedure of the centre has), the
pushes refused lately (forged signatures included), and a retry of a centre's failed changes."""

from flask import abort, flash, redirect, url_for
from flask_admin import BaseView, expose

from onestop.services.errors import NotFound
from onestop.services.national_portal import sync

from . import views


class NationalPortalView(views.Guarded, BaseView):
    """Read-only but for "retry", which is one audited service call."""

    @expose("/")
    def index(self):
        actor = views._actor()
        return self.render("onestop_admin/national_portal.html", centres=sync.health(actor),
                           refusals=sync.refusals(actor), form=views.ActionForm())

    @expose("/<int:centre_id>/retry", methods=("POST",))
    def retry(self, centre_id):
        if not views.ActionForm().validate_on_submit():
            abort(400)
        try:
            count = sync.retry_failed(views._actor(), centre_id)
        except NotFound:
            abort(404)  # another scope's centre: like any unknown address
        flash(f"Đã xếp {count} thay đổi trạng thái để gửi lại lên Cổng DVC quốc gia ngay.", "success")
        return redirect(url_for(".index"))
