"""JWTs that stop working when the user's access ends (see coaching/services/access.py).

Every token issued here carries the user's token generation; authentication and
refresh refuse a token from an older generation.
"""

from typing import Any

from django.contrib.auth import get_user_model
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenRefreshSerializer
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token

from coaching.models import User
from coaching.services.access import token_is_current, token_stamp

VOIDED = "Token was issued before your access ended; get a new one."


class CurrentJWTAuthentication(JWTAuthentication):
    """simplejwt's authentication, plus: the token is of the user's current generation."""

    def get_user(self, validated_token: Token) -> User:
        user = super().get_user(validated_token)
        if not token_is_current(validated_token, user):
            raise AuthenticationFailed(VOIDED, code="token_voided")
        return user


class CurrentJWTScheme(SimpleJWTScheme):
    """The OpenAPI security scheme: the same bearer JWT as simplejwt's."""

    target_class = CurrentJWTAuthentication


class TokenObtainSerializer(TokenObtainPairSerializer):
    @classmethod
    def get_token(cls, user: User) -> Token:
        return token_stamp(super().get_token(user), user)


class TokenRefreshCurrentSerializer(TokenRefreshSerializer):
    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        refresh = self.token_class(attrs["refresh"])
        user = (
            get_user_model()
            .objects.filter(**{api_settings.USER_ID_FIELD: refresh.get(api_settings.USER_ID_CLAIM)})
            .first()
        )
        if user is not None and not token_is_current(refresh, user):
            raise AuthenticationFailed(VOIDED, code="token_voided")
        return super().validate(attrs)
