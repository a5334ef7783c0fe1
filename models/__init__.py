from models.core import AuditLog, DeadlineRule, Membership, NumberSequence, Property, Role, SignOff, StaffUser  # noqa: F401
from models.master import Department, FeeItem, Payment, Resident, Shift, Unit  # noqa: F401
from models.desk import (Callback, CleaningBooking, Complaint, FunctionCard, Incident, InspectionIssue,  # noqa: F401
                         MailItem, MoveIn, NetworkRequest, PhoneLog, ReclaimedWaterSale, RepairOrder,
                         TelecomRegistration, UtilityAccount)
from models.permits import (AdditionalWorks, GoodsPass, HotWorkPermit, RenovationExtension,  # noqa: F401
                            RenovationPermit, StairElevatorUse, WorkerPass)
from models.duty import (AttendanceException, ChecklistItem, DutyLog, DutyLogReading, Handover,  # noqa: F401
                         LeaveRequest, QualityCheck, Roster, RosterAssignment)
