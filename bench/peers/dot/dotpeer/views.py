from django.http import JsonResponse
from oauth2_provider.decorators import protected_resource


@protected_resource()
def profile(request):
    """The resource-server side of the benchmark: DOT's stock bearer check, then the user."""
    user = request.resource_owner
    return JsonResponse(
        {
            "id": user.pk,
            "username": user.username,
            "email": user.email,
            "firstName": user.first_name,
            "lastName": user.last_name,
        }
    )
