from django.apps import AppConfig


class DeveloperConfig(AppConfig):
    """Developer pages: the sign-in button playground and the API docs."""

    name = "developer"
