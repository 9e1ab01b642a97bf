"""Writes for disputes, one module per family of use cases (keyword-only arguments, one
transaction, an audit event with the person who acted, e-mails through ``core.mail``):

- ``rules``: who may dispute online, the supervisor limit, ``DisputeRefused``;
- ``attachments``: checking and storing attached files;
- ``filing``: filing one dispute, or several whole invoices at once;
- ``workflow``: the one way a status changes, assignment, closing, withdrawal;
- ``decisions``: the decision and its credit;
- ``messages``: replies and internal notes;
- ``notifications``: the e-mails to the filer.

Rows are locked dispute first, then invoices (``invoices.locks``). Code inside disputes imports
from the modules; this package re-exports the public names for the tests and the seed data.
"""

from .attachments import ATTACHMENT_SIGNATURES, MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS, attachment_name, attachment_sniff
from .decisions import Decision, dispute_decide
from .filing import DisputeItemInput, dispute_file, dispute_file_bulk
from .messages import dispute_message_post
from .notifications import dispute_notify
from .rules import (
    DisputeRefused,
    dispute_needs_supervisor,
    dispute_online_refusal,
    dispute_supervisor_threshold,
    dispute_target,
)
from .workflow import dispute_assign, dispute_close, dispute_transition, dispute_withdraw

__all__ = [
    "ATTACHMENT_SIGNATURES",
    "MAX_ATTACHMENTS",
    "MAX_ATTACHMENT_BYTES",
    "Decision",
    "DisputeItemInput",
    "DisputeRefused",
    "attachment_name",
    "attachment_sniff",
    "dispute_assign",
    "dispute_close",
    "dispute_decide",
    "dispute_file",
    "dispute_file_bulk",
    "dispute_message_post",
    "dispute_needs_supervisor",
    "dispute_notify",
    "dispute_online_refusal",
    "dispute_supervisor_threshold",
    "dispute_target",
    "dispute_transition",
    "dispute_withdraw",
]
