"""The centre's queue in the back office: its service groups (letter, name, booking slots and their
capacity) and its counters (number, name, the groups each serves), with links to the kiosk, the
door's QR poster, the booking page and the hall screen. Every write is one call to
onestop.services.queue, which checks it, scopes it to the administrator's centre and audits it."""

from flask import flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from onestop.models import Centre
from onestop.services import queue
from onestop.services.errors import ServiceError

from . import views


class GroupForm(FlaskForm):
    group_id = IntegerField(validators=[Optional()])
    letter = StringField("Chữ cái của số (A, B...)", validators=[DataRequired(), Length(max=2)])
    name = StringField("Tên nhóm dịch vụ (lĩnh vực)", validators=[DataRequired(), Length(max=255)])
    slot_minutes = IntegerField("Độ dài mỗi khung giờ đặt lịch (phút)", default=15,
                                validators=[DataRequired(), NumberRange(5, 240)])
    slot_capacity = IntegerField("Số người mỗi khung giờ (0: không nhận đặt lịch)", default=0,
                                 validators=[Optional(), NumberRange(0, 100)])
    active = BooleanField("Đang dùng", default=True)


class CounterForm(FlaskForm):
    counter_id = IntegerField(validators=[Optional()])
    number = StringField("Số quầy", validators=[DataRequired(), Length(max=16)])
    name = StringField("Tên quầy", validators=[Optional(), Length(max=255)])
    groups = SelectMultipleField("Nhóm dịch vụ quầy phục vụ", coerce=int)


class QueueView(views.Guarded, BaseView):
    """Service groups and counters of the administrator's centre."""

    roles = ("admin",)

    def _save(self, actor, group, counter):
        if "group-letter" in request.form and group.validate_on_submit():
            queue.save_group(actor, group.letter.data, group.name.data, group.slot_minutes.data,
                             group.slot_capacity.data or 0, group.active.data, group.group_id.data or None)
            return "Đã lưu nhóm dịch vụ."
        if "counter-number" in request.form and counter.validate_on_submit():
            queue.save_counter(actor, counter.number.data, counter.name.data or "", counter.groups.data,
                               counter.counter_id.data or None)
            return "Đã lưu quầy."
        return None

    @expose("/", methods=("GET", "POST"))
    def index(self):
        actor = views._actor()
        group, counter = GroupForm(prefix="group"), CounterForm(prefix="counter")
        groups = queue.groups(actor.centre_id, active_only=False)
        counter.groups.choices = [(g.id, f"{g.letter} — {g.name}") for g in groups]
        if request.method == "POST":
            try:
                done = self._save(actor, group, counter)
            except ServiceError as exc:
                flash(f"Không lưu được: {exc.message}", "error")
            else:
                if done:
                    flash(done, "success")
                    return redirect(url_for(".index"))
                flash("Kiểm tra lại các ô đã nhập.", "error")
        centre = Centre.get_by_id(actor.centre_id)
        return self.render("onestop_admin/queue.html", centre=centre, groups=groups, counters=queue.counters(centre.id),
                           names={g.id: g.letter for g in groups}, group=group, counter=counter)
