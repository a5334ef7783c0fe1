"""Every register's screen, mounted at /admin/<endpoint>/ (endpoint = the model's table name)."""
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme

from app.dashboard import Dashboard
from app.i18n import T
from admin_views import desk, duty, master, permits
from models import core, desk as d, duty as u, master as m, permits as p

MASTER = T("基础资料", "Master data")
SYSTEM = T("系统", "System")
DESK = T("前台登记", "Desk")
PERMITS = T("放行与许可", "Passes and permits")
DUTY = T("值班管理", "Duty")


def views():
    return [
        (desk.PhoneLogView, d.PhoneLog, DESK), (desk.RepairOrderView, d.RepairOrder, DESK),
        (desk.ComplaintView, d.Complaint, DESK), (desk.IncidentView, d.Incident, DESK),
        (desk.CallbackView, d.Callback, DESK), (desk.CleaningBookingView, d.CleaningBooking, DESK),
        (desk.FunctionCardView, d.FunctionCard, DESK), (desk.ReclaimedWaterSaleView, d.ReclaimedWaterSale, DESK),
        (desk.TelecomRegistrationView, d.TelecomRegistration, DESK), (desk.UtilityAccountView, d.UtilityAccount, DESK),
        (desk.NetworkRequestView, d.NetworkRequest, DESK), (desk.MailItemView, d.MailItem, DESK),
        (desk.MoveInView, d.MoveIn, DESK), (desk.InspectionIssueView, d.InspectionIssue, DESK),
        (permits.GoodsPassView, p.GoodsPass, PERMITS), (permits.RenovationPermitView, p.RenovationPermit, PERMITS),
        (permits.WorkerPassView, p.WorkerPass, PERMITS), (permits.RenovationExtensionView, p.RenovationExtension, PERMITS),
        (permits.AdditionalWorksView, p.AdditionalWorks, PERMITS), (permits.HotWorkPermitView, p.HotWorkPermit, PERMITS),
        (permits.StairElevatorUseView, p.StairElevatorUse, PERMITS),
        (duty.DutyLogView, u.DutyLog, DUTY), (duty.HandoverView, u.Handover, DUTY), (duty.RosterView, u.Roster, DUTY),
        (duty.LeaveRequestView, u.LeaveRequest, DUTY), (duty.AttendanceExceptionView, u.AttendanceException, DUTY),
        (duty.QualityCheckView, u.QualityCheck, DUTY), (duty.DutyLogReadingView, u.DutyLogReading, DUTY),
        (duty.ChecklistItemView, u.ChecklistItem, DUTY),
        (master.UnitView, m.Unit, MASTER), (master.ResidentView, m.Resident, MASTER),
        (master.DepartmentView, m.Department, MASTER), (master.FeeItemView, m.FeeItem, MASTER),
        (master.PaymentView, m.Payment, MASTER), (master.ShiftView, m.Shift, MASTER),
        (master.PropertyView, core.Property, SYSTEM), (master.StaffUserView, core.StaffUser, SYSTEM),
        (master.RoleView, core.Role, SYSTEM), (master.DeadlineRuleView, core.DeadlineRule, SYSTEM),
        (master.AuditLogView, core.AuditLog, SYSTEM),
    ]


def build_admin(app):
    from pathlib import Path
    admin = Admin(app, name=str(T("物业客服前台", "FrontDesk")), url="/admin",
                  translations_path=str(Path(__file__).resolve().parent.parent / "app" / "translations"),
                  index_view=Dashboard(name=T("工作台", "Dashboard"), url="/admin"),
                  theme=Bootstrap4Theme(base_template="admin/fd_master.html", fluid=True))
    for view_class, model, category in views():
        admin.add_view(view_class(model, category=category))
    admin.add_view(duty.DailySummaryView(name=T("每日汇总", "Daily summary"), endpoint="daily_summary", category=DUTY))
    app.extensions["frontdesk_admin"] = admin
    return admin
