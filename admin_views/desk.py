"""Desk register screens: columns, filters and search; all behaviour comes from RegisterView and the models."""
from flask import flash, request
from flask_admin.actions import action

from app.admin import DailySheet, RegisterView, report
from app.admin.outbound import queue_isp_batch
from kernel import attachments, scoping
from kernel.i18n import T


class DeskView(RegisterView):
    lookups = ("unit",)
    column_default_sort = ("id", True)
    search_prefix = ("number",)


class PhoneLogView(DeskView):
    column_list = ("number", "called_at", "caller", "phone", "unit", "content", "department", "forwarded_at")
    column_filters = ("called_at", "department")
    search_prefix = ("number", "phone")
    search_contains = ("caller",)


class RepairOrderView(DeskView):
    column_list = ("number", "state", "urgent", "unit", "contact", "phone", "content", "received_at",
                   "department", "dispatched_at", "completed_at")
    column_filters = ("state", "urgent", "source", "received_at", "completed_at", "department")
    search_prefix = ("number", "phone")
    form_excluded_columns = ("dispatched_at", "on_site_at", "completed_at", "visited_at", "delay_told_at",
                             "department", "result", "engineer", "callback_outcome")
    daily = DailySheet("received_at", ("number", "state", "unit", "contact", "phone", "content", "received_at",
                                        "department", "completed_at"))


class ComplaintView(DeskView):
    column_list = ("number", "state", "kind", "unit", "complainant", "phone", "content", "received_at", "department")
    column_filters = ("state", "kind", "received_at", "department")
    search_prefix = ("number", "phone")
    search_contains = ("complainant",)
    form_excluded_columns = ("forwarded_at", "replied_at", "department", "reply")


class IncidentView(DeskView):
    column_list = ("number", "state", "occurred_at", "location", "content", "reported_to", "reported_at", "notified_at")
    column_filters = ("state", "occurred_at")
    form_excluded_columns = ("handling",)  # the supervisor or manager records it (step record_handling)
    lookups = ()


class CallbackView(DeskView):
    column_list = ("number", "called_at", "unit", "repair_order", "cleaning_booking", "complaint", "result",
                   "satisfaction", "follow_up_complaint")
    column_filters = ("satisfaction", "called_at")
    form_excluded_columns = ("follow_up_complaint",)  # opened by the server when the owner is dissatisfied

    def create_form(self, obj=None):
        """回访结果 is chosen, never preselected: a new callback's box starts empty (Callback.clean asks for it)."""
        form = super().create_form(obj)
        form.satisfaction.choices = [("", str(T("请选择", "Choose")))] + [
            c for c in form.satisfaction.choices if c[0] != ""]
        if request.method == "GET":
            form.satisfaction.data = ""
        return form
    lookups = ("unit", "repair_order", "cleaning_booking", "complaint")


class CleaningBookingView(DeskView):
    column_list = ("number", "unit", "contact", "phone", "cleaning_type", "cleaners", "hours", "requested_at",
                   "scheduled_at", "owner_called_back_at", "completed_at", "amount")
    column_filters = ("cleaning_type", "requested_at", "completed_at")
    search_prefix = ("number", "phone")
    # 回访时间 comes from the callback recorded in 业户访问记录 against the booking (Callback.after_create)
    form_excluded_columns = ("unit_price", "amount", "visited_at")


class FunctionCardView(DeskView):
    lookups = ("unit", "resident")
    column_list = ("number", "unit", "resident", "card_no", "quantity", "unit_price", "amount", "sold_at")
    column_filters = ("sold_at",)
    search_prefix = ("number", "card_no")
    form_excluded_columns = ("unit_price", "amount")


class ReclaimedWaterSaleView(DeskView):
    lookups = ("unit", "resident")
    column_list = ("number", "unit", "resident", "quantity", "unit_price", "amount", "sold_at")
    column_filters = ("sold_at",)
    form_excluded_columns = ("unit_price", "amount")


class TelecomRegistrationView(DeskView):
    column_list = ("number", "received_at", "unit", "applicant", "phone", "request", "content", "faxed_at")
    column_filters = ("request", "received_at")
    search_prefix = ("number", "phone")
    daily = DailySheet("received_at", ("number", "unit", "applicant", "phone", "request", "content"))


class UtilityAccountView(DeskView):
    lookups = ("unit", "resident")
    column_list = ("number", "service", "unit", "resident", "identity_checked", "applicant_signed", "opened_at")
    column_filters = ("service", "opened_at")


class NetworkRequestView(DeskView):
    lookups = ("unit", "resident")
    column_list = ("number", "kind", "unit", "resident", "tariff", "account", "amount", "received_at", "sent_to_isp_at")
    column_filters = ("kind", "received_at", "sent_to_isp_at")
    search_prefix = ("number", "account")
    form_excluded_columns = ("amount", "sent_to_isp_at")
    action_operations = {"send_to_isp": "edit"}

    @action("send_to_isp", T("邮件发网通", "E-mail to the ISP"),
            T("将所选未发送的申请作为一封邮件（附CSV和Excel）发给网通公司？邮件服务器接收后才标记为已发送。",
              "E-mail the selected unsent requests to the ISP? They are marked sent when the mail server accepts it."))
    def action_send_to_isp(self, ids):
        """One batch for the ISP through the outbox; "sent" is set by the worker when SMTP accepted it."""
        rows, skipped = [], []
        label = T("发送网通", "send to the ISP")
        for r in self.rows_for(ids):
            why = attachments.refusal(self.session, r, "send_to_isp", label)  # 篇5 §7 d: the ID copy first
            (skipped.append((r, why)) if why else rows.append(r))
        if not rows:
            report(0, skipped)
            return None
        count, why = queue_isp_batch(rows, scoping.current_property_id())
        if why:
            flash(str(why), "error")
            return None
        self.session.commit()
        if skipped:
            report(count, skipped)
        flash(str(T(f"已将 {count} 条申请加入发送队列；邮件服务器接收后标记为已发送",
                    f"{count} requests queued; marked sent when the mail server accepts the e-mail")), "success")
        return None


class MailItemView(DeskView):
    column_list = ("number", "state", "unit", "addressee", "kind", "tracking_no", "received_at", "notified_at",
                   "picked_up_at", "signed_by")
    column_filters = ("state", "kind", "received_at")
    search_prefix = ("number", "tracking_no")
    search_contains = ("addressee",)
    form_excluded_columns = ("notified_at", "picked_up_at", "signed_by")


class MoveInView(DeskView):
    lookups = ("unit", "resident")
    column_list = ("number", "unit", "resident", "handed_over_at", "documents_checked", "keys_handed")
    column_filters = ("handed_over_at",)
    daily = DailySheet(
        "handed_over_at",
        ("number", "unit", "resident", "handed_over_at", "keys_handed", "water_reading", "power_reading"),
    )


class InspectionIssueView(DeskView):
    column_list = ("number", "state", "unit", "inspected_at", "location", "description", "department", "fed_back_at")
    column_filters = ("state", "inspected_at", "department")
    form_excluded_columns = ("fed_back_at", "fixed_at", "department")
    daily = DailySheet("inspected_at", ("number", "unit", "location", "description", "department", "fed_back_at"))
