"""The audit log's entries in the reader's words: what each action did and how it ended.

An entry stores the name of the route or command that made it (stable, in English, for scripts and the
CSV export); the page shows its description. A few names are shared by several portal forms ("add",
"remove"): the kind of thing they touched, read from the target's id, tells them apart.
"""

from __future__ import annotations

from api.portal.i18n import N_, Texts

ACTIONS = {
    # Associations, people and tokens.
    "create_tenant": N_("Association created"),
    "patch_tenant": N_("Association changed"),
    "change_quota": N_("Quota of an association changed"),
    "create_token": N_("API token made"),
    "new_token": N_("API token made"),
    "revoke": N_("API token revoked"),
    "revoke_api_token": N_("API token revoked"),
    "create_operator_token": N_("Operator token made (command line)"),
    "invite_member": N_("Person invited to an association"),
    "invite_operator": N_("Operator invited"),
    "send_invitation": N_("Person invited"),
    "accept_invitation": N_("Invitation accepted"),
    "change_user": N_("Person's account changed"),
    "change_role": N_("Person's role changed"),
    "remove_user": N_("Person removed"),
    "reset_password": N_("Password reset started for a person"),
    "reset_password_for": N_("Password reset started for a person"),
    "request_password_reset": N_("Password reset asked for"),
    "request_reset": N_("Password reset asked for"),
    "confirm_password_reset": N_("New password set"),
    "reset": N_("New password set"),
    "create_operator_user": N_("Operator account created (command line)"),
    "create_first_operator": N_("First operator account created"),
    "open_first_start_link": N_("First-start link made (command line)"),
    "log_in": N_("Signed in"),
    "login": N_("Signed in"),
    "log_out": N_("Signed out"),
    "logout": N_("Signed out"),
    "choose_language": N_("Language chosen"),
    "offboard_tenant": N_("Offboarding of an association started"),
    "cancel_offboarding": N_("Offboarding of an association canceled"),
    "resume_offboarding": N_("Offboarding of an association resumed"),
    "delete_offboarded_backups_now": N_("Backups of an association being offboarded deleted now"),
    "offboard": N_("Offboarding of an association started"),
    "resume": N_("Offboarding of an association resumed"),
    "request_association_export": N_("Export of an association's data started"),
    "export_everything": N_("Export of an association's data started"),
    # Services and spaces.
    "request_instance": N_("Service requested"),
    "send_request": N_("Service requested"),
    "approve_instance": N_("Request approved"),
    "approve": N_("Request approved"),
    "reject_instance": N_("Request declined"),
    "reject": N_("Request declined"),
    "redeploy_instance": N_("Service set up again"),
    "redeploy": N_("Service set up again"),
    "update_instance": N_("Service update started"),
    "update": N_("Service update started"),
    "move_instance": N_("Service move started"),
    "move": N_("Service move started"),
    "remove_instance": N_("Service removal started"),
    "reset_credentials": N_("New admin access for a service started"),
    "get_credentials": N_("First admin access shown"),
    "show_credentials": N_("First admin access shown"),
    "request_backup": N_("Backup started"),
    "back_up_now": N_("Backup started"),
    "request_restore": N_("Restore started"),
    "restore": N_("Restore started"),
    "request_drill": N_("Restore drill started"),
    "request_export": N_("Export started"),
    "export_now": N_("Export started"),
    "change_backup_schedule": N_("Backup schedule changed"),
    "cancel_job": N_("Job canceled"),
    "cancel": N_("Job canceled"),
    "request_space": N_("Space requested"),
    "send_space_request": N_("Space requested"),
    "approve_space": N_("Space approved"),
    "patch_space": N_("Limits of a space changed"),
    "change_space_quota": N_("Limits of a space changed"),
    "reject_space": N_("Space request declined"),
    "remove_space": N_("Space removal started"),
    "show_space_admin": N_("First admin access of a space shown"),
    "make_moderator_link": N_("Moderator link of a space made"),
    "back_up_space": N_("Backup of a space started"),
    "restore_space": N_("Restore of a space started"),
    "export_space": N_("Export of a space started"),
    "request_space_export": N_("Export of a space started"),
    "move_space_to_dedicated": N_("Move of a space into a service of its own started"),
    "set_template_modes": N_("Modes a service may be requested in changed"),
    "choose_modes": N_("Modes a service may be requested in changed"),
    # Schedules.
    "create_schedule": N_("Schedule added"),
    "add_schedule": N_("Schedule added"),
    "update_schedule": N_("Schedule changed"),
    "change_schedule": N_("Schedule changed"),
    "delete_schedule": N_("Schedule removed"),
    "remove_schedule": N_("Schedule removed"),
    # Servers and backup targets.
    "add_server": N_("Server added"),
    "change_server": N_("Server changed"),
    "configure_server": N_("Server changed (command line)"),
    "remove_server": N_("Server removed"),
    "drain": N_("Server drained"),
    "undrain": N_("Server takes new services again"),
    "bootstrap": N_("Server bootstrap started"),
    "bootstrap_server": N_("Server bootstrap started"),
    "check_now": N_("Server checked"),
    "add_target": N_("Backup target added"),
    "remove_target": N_("Backup target removed"),
    "remove_backup_target": N_("Backup target removed"),
    "check_target": N_("Connection to a backup target tested"),
    "check": N_("Connection to a backup target tested"),
    "rotate_keys": N_("Encryption key changed (command line)"),
    # Mail and webhook.
    "configure_mail": N_("Mail account changed"),
    "save_mail": N_("Mail account changed"),
    "put_mail_settings": N_("Mail account changed"),
    "test_mail": N_("Test mail sent"),
    "test_mail_settings": N_("Test mail sent"),
    "configure_webhook": N_("Webhook changed"),
    "save_webhook": N_("Webhook changed"),
    "put_webhook_settings": N_("Webhook changed"),
    "drop_webhook": N_("Webhook removed"),
    "delete_webhook_settings": N_("Webhook removed"),
    "test_webhook": N_("Test notice sent to the webhook"),
    "test_webhook_settings": N_("Test notice sent to the webhook"),
}
# Portal forms sharing a name, by the kind of thing they touched (the prefix of its id).
BY_TARGET = {
    ("add", "ten"): N_("Association created"),
    ("add", "srv"): N_("Server added"),
    ("add", "bkt"): N_("Backup target added"),
    ("remove", "ins"): N_("Service removal started"),
    ("remove", "srv"): N_("Server removed"),
    ("remove", "bkt"): N_("Backup target removed"),
    ("remove", "usr"): N_("Person removed"),
}
SHARED = {"add": N_("Something added in the portal"), "remove": N_("Something removed in the portal")}
# How an entry ended: "success", or the title of the problem the request was answered with.
OUTCOMES = {
    "success": N_("done"),
    "Bad request": N_("bad request"),
    "Conflict": N_("refused: conflicts with the current state"),
    "Error": N_("error"),
    "Forbidden": N_("refused: not allowed"),
    "Gone": N_("refused: no longer there"),
    "Invalid input": N_("refused: invalid input"),
    "Method not allowed": N_("refused: not allowed this way"),
    "Not found": N_("refused: not found"),
    "Not possible in the current state": N_("refused: not possible in the current state"),
    "Service unavailable": N_("failed: a service it needs did not answer"),
    "Too many requests": N_("refused: too many requests"),
    "Unauthorized": N_("refused: not signed in"),
    "Internal error": N_("failed inside the control plane"),
}


def described(texts: Texts, action: str, target_id: str | None) -> str | None:
    """The action in the reader's words; None for one this table does not know (shown as stored)."""
    prefix = (target_id or "").partition("_")[0]
    words = BY_TARGET.get((action, prefix)) or ACTIONS.get(action) or SHARED.get(action)
    return texts.gettext(words) if words else None


def outcome(texts: Texts, stored: str) -> str | None:
    words = OUTCOMES.get(stored)
    return texts.gettext(words) if words else None
