from models.core import AuditLog, DeadlineRule, Membership, NumberSequence, Property, Role, SignOff, StaffUser  # noqa: F401
from models.master import Department, FeeItem, Payment, Resident, Shift, Unit  # noqa: F401
