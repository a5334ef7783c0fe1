"""Passes and permits screens; approvals, reissue and printing come from the models and app/printing."""
from app.admin import RegisterView
from app.admin.printing import PrintPart, SignatureBox
from kernel.i18n import T


class PermitView(RegisterView):
    lookups = ("unit", "applicant")
    column_default_sort = ("id", True)
    search_prefix = ("number",)


class RenovationPermitView(PermitView):
    print_template = "print/renovation_permit.html"
    # 篇5 §2 a, §3: the approved permit is what the lead shows when passes are made and the dates are checked
    # against; applied for by the owner with the renovation lead (篇5 §1 a), approved by the director
    print_parts = (PrintPart("owner", T("装修许可证（业主联）", "Renovation permit (owner's copy)")),
                   PrintPart("stub", T("装修许可证（存根）", "Renovation permit (stub)")))
    signature_boxes = (SignatureBox(T("业主签字", "Owner's signature")),
                       SignatureBox(T("装修负责人签字", "Renovation lead's signature")),
                       SignatureBox(T("主任审批签字", "Director's approval")),
                       SignatureBox(T("管理处盖章", "Management office stamp")))
    print_in_force = ("approved",)
    column_list = ("number", "state", "unit", "applicant", "lead_name", "lead_phone", "start_on", "end_on")
    column_filters = ("state", "start_on", "end_on")
    search_contains = ("lead_name",)


class WorkerPassView(PermitView):
    lookups = ("permit", "applicant")
    print_template = "print/worker_pass.html"
    # 篇5 §2 f: the card goes to the worker; §2 g: the register line (存根) is signed by the lead, then stamped
    print_parts = (PrintPart("card", T("装修人员出入证（持证人联）", "Worker pass (holder's card)"), qr=True,
                             last_four=True),
                   PrintPart("stub", T("装修人员出入证（存根）", "Worker pass (stub)")))
    signature_boxes = (SignatureBox(T("签收人(装修负责人)签字", "Signed for by (the lead)"), parts=("stub",)),
                       SignatureBox(T("财务盖章", "Finance stamp"), parts=("stub",)))
    print_in_force = ("issued",)
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
    # 篇5 §1 b-c: the applicant signs 办证人, the duty supervisor signs, the director stamps; the guard keeps a copy
    print_parts = (PrintPart("gate", T("物品放行条（保安联）", "Goods pass (guard's copy)"), qr=True, last_four=True),
                   PrintPart("stub", T("物品放行条（存根）", "Goods pass (stub)")))
    signature_boxes = (SignatureBox(T("办证人签字", "Applicant's signature")),
                       SignatureBox(T("值班主任签字", "Duty supervisor's signature")),
                       SignatureBox(T("管理处主任盖章", "Director's stamp")))
    print_in_force = ("issued",)
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
    # 篇5 §5 d-e: reviewed by engineering and safety, approved and stamped by the director; a copy is filed and the
    # original handed to the applicant
    print_parts = (PrintPart("original", T("动火许可证（原件）", "Hot-work permit (original)"), qr=True),
                   PrintPart("file", T("动火许可证（存档联）", "Hot-work permit (file copy)")))
    signature_boxes = (SignatureBox(T("工程主管审核签字", "Engineering lead's signature")),
                       SignatureBox(T("安全主管审核签字", "Safety lead's signature")),
                       SignatureBox(T("主任审批签字", "Director's approval")),
                       SignatureBox(T("主任盖章", "Director's stamp")),
                       SignatureBox(T("申请人签收", "Received by the applicant"), parts=("file",)))
    print_in_force = ("issued",)
    column_list = ("number", "state", "unit", "applicant", "lead_name", "welder_name", "location", "window_start",
                   "window_end")
    column_filters = ("state", "window_start")


class StairElevatorUseView(PermitView):
    column_list = ("number", "state", "kind", "unit", "applicant", "lead_name", "materials", "use_on")
    column_filters = ("state", "kind", "use_on")
