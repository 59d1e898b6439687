from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from coaching.models import User


def token_for(user: User) -> str:
    return str(AccessToken.for_user(user))


def api_client_for(user: User | None) -> APIClient:
    """A REST client with the user's bearer token (anonymous for None)."""
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
    return client
