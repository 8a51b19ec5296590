"""The back office's webhooks page (issue 21): a centre's administrator subscribes outside systems to
its dossiers' events, rotates their signing secrets, reads the delivery log and replays a delivery.

A URL must be on the centre's allowed hosts (the connectors page), an internal address only if it is
listed itself. A secret is shown once, when it is made; the pages show its fingerprint only."""

from flask import flash, redirect, url_for
from flask_admin import BaseView, expose
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectMultipleField, StringField, widgets
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from onestop.services import webhooks
from onestop.services.errors import NotFound, ServiceError

from . import views

STATUS_LABELS = {"pending": "chờ gửi", "sending": "đang gửi", "delivered": "đã nhận", "failed": "thất bại"}


class SubscriptionForm(FlaskForm):
    url = StringField("Địa chỉ nhận (URL)", validators=[Length(max=500)])
    description = StringField("Mô tả (hệ thống nhận)", validators=[Optional(), Length(max=255)])
    events = SelectMultipleField("Sự kiện", choices=[SelectChoice(event, label) for event, label in webhooks.EVENTS.items()],
                                 widget=widgets.ListWidget(prefix_label=False), option_widget=widgets.CheckboxInput(),
                                 validate_choice=False)
    active = BooleanField("Đang bật", default=True)


class WebhooksView(views.Guarded, BaseView):
    """Subscriptions of the administrator's centre; every write is one service call, audited there."""

    roles = webhooks.MANAGERS

    def _list(self, form, status=200):
        return self.render("onestop_admin/webhooks.html", form=form,
                           subscriptions=webhooks.subscriptions_of(views._actor()), events=webhooks.EVENTS), status

    def _secret_page(self, subscription, secret, first: bool):
        return self.render("onestop_admin/webhook_secret.html", subscription=subscription, secret=secret,
                           first=first, fingerprint=webhooks.fingerprint(secret))

    @expose("/", methods=("GET",))
    def index(self):
        return self._list(SubscriptionForm(data={"active": True, "events": list(webhooks.EVENTS)}))

    @expose("/subscribe", methods=("POST",))
    def subscribe(self):
        form = SubscriptionForm()
        if not form.validate_on_submit():
            flash("Địa chỉ hoặc mô tả quá dài, hoặc phiên làm việc đã hết hạn.", "error")
            return self._list(form, 422)
        try:
            subscription, secret = webhooks.subscribe(views._actor(), form.url.data, form.events.data,
                                                      form.description.data or "", form.active.data)
        except ServiceError as exc:
            flash(f"Chưa lưu đăng ký: {exc.message}", "error")
            return self._list(form, 422)  # what was typed stays in the form
        return self._secret_page(subscription, secret, first=True)

    @expose("/<int:subscription_id>", methods=("GET",))
    def detail(self, subscription_id):
        actor = views._actor()
        subscription = webhooks.subscription_of(actor, subscription_id)
        form = SubscriptionForm(data={"url": subscription.url, "description": subscription.description,
                                      "events": sorted(webhooks.subscribed_events(subscription.events)),
                                      "active": subscription.active})
        return self._detail(subscription, form)

    def _detail(self, subscription, form, status=200):
        return self.render("onestop_admin/webhook.html", subscription=subscription, form=form,
                           secrets=webhooks.secrets_of(subscription), action=views.ActionForm(),
                           deliveries=webhooks.deliveries_of(views._actor(), subscription.id),
                           labels=STATUS_LABELS, events=webhooks.EVENTS), status

    @expose("/<int:subscription_id>/update", methods=("POST",))
    def update(self, subscription_id):
        actor = views._actor()
        subscription = webhooks.subscription_of(actor, subscription_id)
        form = SubscriptionForm()
        if not form.validate_on_submit():
            flash("Địa chỉ hoặc mô tả quá dài, hoặc phiên làm việc đã hết hạn.", "error")
            return self._detail(subscription, form, 422)
        try:
            webhooks.update(actor, subscription.id, form.url.data, form.events.data, form.description.data or "",
                            form.active.data)
        except ServiceError as exc:
            flash(f"Chưa lưu thay đổi: {exc.message}", "error")
            return self._detail(subscription, form, 422)
        flash("Đã lưu đăng ký webhook.", "success")
        return redirect(url_for(".detail", subscription_id=subscription.id))

    def _acted(self) -> bool:
        if views.ActionForm().validate_on_submit():
            return True
        flash("Phiên làm việc đã hết hạn; thử lại.", "error")
        return False

    @expose("/<int:subscription_id>/delete", methods=("POST",))
    def delete(self, subscription_id):
        if self._acted():
            webhooks.unsubscribe(views._actor(), subscription_id)
            flash("Đã xoá đăng ký webhook cùng nhật ký gửi của nó.", "success")
        return redirect(url_for(".index"))

    @expose("/<int:subscription_id>/secrets", methods=("POST",))
    def add_secret(self, subscription_id):
        actor = views._actor()
        subscription = webhooks.subscription_of(actor, subscription_id)
        if not self._acted():
            return redirect(url_for(".detail", subscription_id=subscription.id))
        try:
            secret = webhooks.add_secret(actor, subscription.id)
        except NotFound:
            raise
        except ServiceError as exc:
            flash(exc.message, "error")
            return redirect(url_for(".detail", subscription_id=subscription.id))
        return self._secret_page(subscription, secret, first=False)

    @expose("/<int:subscription_id>/secrets/<int:secret_id>/retire", methods=("POST",))
    def retire_secret(self, subscription_id, secret_id):
        if self._acted():
            try:
                webhooks.retire_secret(views._actor(), subscription_id, secret_id)
            except NotFound:
                raise
            except ServiceError as exc:
                flash(exc.message, "error")
            else:
                flash("Đã bỏ khóa cũ: từ nay các lần gửi chỉ ký bằng khóa còn lại.", "success")
        return redirect(url_for(".detail", subscription_id=subscription_id))

    @expose("/deliveries/<int:delivery_id>", methods=("GET",))
    def delivery(self, delivery_id):
        actor = views._actor()
        delivery = webhooks.delivery_of(actor, delivery_id)
        return self.render("onestop_admin/webhook_delivery.html", delivery=delivery, labels=STATUS_LABELS,
                           attempts=webhooks.attempts_of(actor, delivery.id), action=views.ActionForm())

    @expose("/deliveries/<int:delivery_id>/replay", methods=("POST",))
    def replay(self, delivery_id):
        delivery = webhooks.delivery_of(views._actor(), delivery_id)
        if self._acted():
            try:
                webhooks.replay(views._actor(), delivery.id)
            except ServiceError as exc:
                flash(exc.message, "error")
            else:
                flash("Đã xếp lần gửi lại: hệ thống sẽ gửi trong giây lát, cùng mã webhook-id và nội dung.", "success")
        return redirect(url_for(".delivery", delivery_id=delivery.id))
