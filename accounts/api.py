from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from core.serializers import StrictInput

from . import services, throttles
from .selectors import user_is_moderator

TokenOutput = inline_serializer("TokenOutput", {"token": serializers.CharField(), "user_id": serializers.IntegerField()})


class InvalidCredentials(exceptions.APIException):
    status_code = status.HTTP_401_UNAUTHORIZED
    default_code = "invalid_credentials"
    default_detail = "Wrong username or password."


class UserOutput(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.EmailField()
    is_staff = serializers.BooleanField()
    is_moderator = serializers.SerializerMethodField()
    date_joined = serializers.DateTimeField()

    def get_is_moderator(self, user) -> bool:
        return user_is_moderator(user=user)


class RegisterApi(APIView):
    """Sign-ups are limited per client address (SIGNUP_RATE_PER_HOUR, shared with the sign-up page)."""

    permission_classes = [AllowAny]
    authentication_classes = []

    class RegisterInputSerializer(StrictInput):
        username = serializers.CharField(max_length=150, help_text="Letters A-Z, digits and . _ @ + - (after "
                                         "Unicode NFKC normalisation); unique without regard to case.")
        password = serializers.CharField(write_only=True, trim_whitespace=False)
        email = serializers.EmailField()

        def validate_username(self, value):
            try:
                return services.username_clean(username=value)
            except DjangoValidationError as exc:
                raise serializers.ValidationError(exc.messages[0], code=exc.code) from None

    @extend_schema(
        request=RegisterInputSerializer,
        responses={201: TokenOutput},
        examples=[OpenApiExample("Sign up", value={"username": "ada", "password": "a long passphrase", "email": "ada@example.com"}, request_only=True)],  # nosec B105  # an example in the API docs
        auth=[],
    )
    def post(self, request):
        try:
            throttles.signup_slot_take(request)
        except throttles.SignupThrottled as exc:
            raise exceptions.Throttled(wait=exc.wait, detail=exc.message) from None
        try:
            user = services.user_create(**self._validated(request))
        except (exceptions.APIException, DjangoValidationError):  # no account made (the service names the field)
            throttles.signup_slot_return(request)
            raise
        token = services.user_token_get_or_create(user=user)
        return Response({"token": token, "user_id": user.id}, status=status.HTTP_201_CREATED)

    def _validated(self, request) -> dict:
        serializer = self.RegisterInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class TokenApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    class TokenInputSerializer(StrictInput):
        username = serializers.CharField()
        password = serializers.CharField(trim_whitespace=False)

    @extend_schema(request=TokenInputSerializer, responses={200: TokenOutput}, auth=[])
    def post(self, request):
        serializer = self.TokenInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        username, password = serializer.validated_data["username"], serializer.validated_data["password"]
        client = throttles.LoginClient.of(request, username)
        wait = client.retry_after()
        if wait:
            raise exceptions.Throttled(wait=wait, detail="Too many failed logins.")
        user = authenticate(request, username=username, password=password)
        if user is None:
            client.failed()
            raise InvalidCredentials()
        client.succeeded()
        return Response({"token": services.user_token_get_or_create(user=user), "user_id": user.id})


class MeApi(APIView):
    permission_classes = [IsAuthenticated]

    class MeUpdateSerializer(StrictInput):
        email = serializers.EmailField()

    @extend_schema(responses={200: UserOutput})
    def get(self, request):
        return Response(UserOutput(request.user).data)

    @extend_schema(request=MeUpdateSerializer, responses={200: UserOutput})
    def patch(self, request):
        serializer = self.MeUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.user_update(user=request.user, email=serializer.validated_data["email"])
        return Response(UserOutput(request.user).data)
