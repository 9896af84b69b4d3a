"""`POST /accounts/login`: a user's own platform token (SPEC §4)."""

from django.http import JsonResponse
from django.views import View


class PlatformLoginView(View):
    def post(self, request):
        return JsonResponse({"error": "not_implemented"}, status=501)
