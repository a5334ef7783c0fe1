"""Passes and permits screens; approvals, reissue and printing come from the models and app/printing."""
from app.admin import RegisterView


class PermitView(RegisterView):
    lookups = ("unit", "applicant")
    column_default_sort = ("id", True)
    search_prefix = ("number",)


class RenovationPermitView(PermitView):
    column_list = ("number", "state", "unit", "applicant", "lead_name", "lead_phone", "start_on", "end_on")
    column_filters = ("state", "start_on", "end_on")
    search_contains = ("lead_name",)


class WorkerPassView(PermitView):
    lookups = ("permit", "applicant")
    print_template = "print/worker_pass.html"
    column_list = ("number", "state", "permit", "worker_name", "worker_id_number", "valid_until", "deposit", "fee",
                   "receipt_no", "supersedes", "superseded_by")
    column_filters = ("state", "valid_until")
    search_prefix = ("number", "receipt_no")
    search_contains = ("worker_name",)
    form_excluded_columns = ("deposit", "fee", "supersedes", "superseded_by", "reissue_reason", "reissue_valid_until",
                             "return_reason", "receipt_no", "receipt", "signed_by_lead", "signed_for_by",
                             "finance_stamped_at")
    column_details_list = ("number", "state", "permit", "worker_name", "worker_id_number", "photo_on_file",
                           "id_copy_on_file", "valid_until", "deposit", "fee", "receipt_no", "applicant",
                           "lead_name", "signed_for_by", "finance_stamped_at",
                           "supersedes", "superseded_by", "reissue_reason", "return_reason", "created_by",
                           "created_at")


class GoodsPassView(PermitView):
    print_template = "print/goods_pass.html"
    column_list = ("number", "state", "unit", "applicant", "carrier_name", "carrier_id_number", "items", "valid_on",
                   "exited_at")
    column_filters = ("state", "valid_on")
    search_contains = ("carrier_name",)
    form_excluded_columns = ("exited_at",)


class RenovationExtensionView(PermitView):
    lookups = ("permit",)
    column_list = ("number", "state", "permit", "new_end_on", "fee_due", "fee_receipt_no", "reason")
    column_filters = ("state",)
    form_excluded_columns = ("fee_receipt_no", "fee_receipt")


class AdditionalWorksView(PermitView):
    column_list = ("number", "state", "unit", "applicant", "lead_name", "work_kind", "description")
    column_filters = ("state", "work_kind")


class HotWorkPermitView(PermitView):
    print_template = "print/hot_work_permit.html"
    column_list = ("number", "state", "unit", "applicant", "lead_name", "welder_name", "location", "window_start",
                   "window_end")
    column_filters = ("state", "window_start")


class StairElevatorUseView(PermitView):
    column_list = ("number", "state", "kind", "unit", "applicant", "lead_name", "materials", "use_on")
    column_filters = ("state", "kind", "use_on")
