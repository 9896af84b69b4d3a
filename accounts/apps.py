from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from accounts import audit_targets  # noqa: F401  (names users, orgs… in the audit log)
        from accounts.factors import factor_changes_audited
        from accounts.sign_in_sessions import sign_in_client_recorded
        from accounts.sso import sso_sign_ins_audited

        factor_changes_audited()
        sso_sign_ins_audited()
        user_logged_in.connect(sign_in_client_recorded, dispatch_uid="doorman-signed-in-from")
