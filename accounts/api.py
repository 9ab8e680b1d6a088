from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from core.serializers import StrictInput

from . import services, throttles
from .models import ApiToken
from .permissions import TokenScope
from .selectors import api_tokens_of, user_is_moderator

TokenOutput = inline_serializer("TokenOutput", {"token": serializers.CharField(), "user_id": serializers.IntegerField()})


class InvalidCredentials(exceptions.APIException):
    status_code = status.HTTP_401_UNAUTHORIZED
    default_code = "invalid_credentials"
    default_detail = "Wrong username or password."


class UserOutput(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.CharField(help_text="the address given at sign-up (blank for an account an operator made without one)")
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
        operation_id="auth_register",
        request=RegisterInputSerializer,
        responses={201: TokenOutput, 429: OpenApiResponse(description="Too many sign-ups from this address "
                                                                      "(SIGNUP_RATE_PER_HOUR); `Retry-After` says when.")},
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

    @extend_schema(operation_id="auth_token", request=TokenInputSerializer, auth=[],
                   responses={200: TokenOutput, 401: OpenApiResponse(description="Wrong username or password."),
                              429: OpenApiResponse(description="Too many failed logins for this name or address; "
                                                               "`Retry-After` says when to try again.")})
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
    permission_classes = [IsAuthenticated, TokenScope]

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


class ApiTokenOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="the start of the key, to tell keys apart")
    scopes = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)

    def get_scopes(self, token) -> list[str]:
        return [scope for scope in token.SCOPES if scope in token.scope_set]


class ApiTokenCreatedOutput(ApiTokenOutput):
    key = serializers.CharField(help_text="the key: shown this once, never again")


class ApiTokensApi(APIView):
    """The user's live named API tokens; POST makes one (the key is in that answer only)."""

    class ApiTokenInputSerializer(StrictInput):
        name = serializers.CharField(max_length=60)
        scopes = serializers.ListField(child=serializers.ChoiceField(choices=ApiToken.SCOPES), required=False,
                                       default=list(ApiToken.SCOPES), allow_empty=False,
                                       help_text="read, predict, manage (default: all three)")

    @extend_schema(responses={200: ApiTokenOutput(many=True)})
    def get(self, request):
        return Response(ApiTokenOutput(api_tokens_of(user=request.user), many=True).data)

    @extend_schema(request=ApiTokenInputSerializer,
                   responses={201: ApiTokenCreatedOutput,
                              409: OpenApiResponse(description="`name_taken`: a live token has that name; or "
                                                               "`token_limit`: revoke one first.")},
                   examples=[OpenApiExample("A token that can only predict", request_only=True,
                                            value={"name": "shop front", "scopes": ["predict"]})])
    def post(self, request):
        serializer = self.ApiTokenInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, key = services.api_token_create(user=request.user, **serializer.validated_data)
        token.key = key
        return Response(ApiTokenCreatedOutput(token).data, status=status.HTTP_201_CREATED)


class ApiTokenApi(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request, token_id: int):
        services.api_token_revoke(user=request.user, token_id=token_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProviderCredentialOutput(serializers.Serializer):
    name = serializers.CharField()
    base_url = serializers.CharField()
    key_last4 = serializers.CharField(help_text="the key's last four characters; the key itself is never shown again")
    created_at = serializers.DateTimeField()


class ProviderCredentialsApi(APIView):
    """The user's keys for OpenAI-compatible providers (``openai:MODEL`` teachers, ``gpt-4``). POST
    saves one (replacing the one of the same name); GET lists them without the keys; DELETE ?name= forgets one."""

    class ProviderCredentialInputSerializer(StrictInput):
        name = serializers.CharField(max_length=60, required=False, default="openai")
        base_url = serializers.CharField(max_length=300, help_text="e.g. https://api.openai.com/v1")
        key = serializers.CharField(max_length=500, write_only=True, trim_whitespace=True)

    @extend_schema(responses={200: ProviderCredentialOutput(many=True)})
    def get(self, request):
        return Response(ProviderCredentialOutput(request.user.provider_credentials.all(), many=True).data)

    @extend_schema(request=ProviderCredentialInputSerializer, responses={201: ProviderCredentialOutput},
                   examples=[OpenApiExample("OpenAI", request_only=True, value={
                       "name": "openai", "base_url": "https://api.openai.com/v1", "key": "sk-..."})])
    def post(self, request):
        serializer = self.ProviderCredentialInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        credential = services.provider_credential_save(user=request.user, **serializer.validated_data)
        return Response(ProviderCredentialOutput(credential).data, status=status.HTTP_201_CREATED)

    class DeleteQuery(serializers.Serializer):
        name = serializers.CharField(max_length=60, required=False, default="openai",
                                     help_text="the credential's name (default: openai)")

    @extend_schema(parameters=[DeleteQuery],
                   responses={204: None, 404: OpenApiResponse(description="No saved credential of that name.")})
    def delete(self, request):
        query = self.DeleteQuery(data=request.query_params)  # a name no column can hold (NUL, too long) is a 400
        query.is_valid(raise_exception=True)
        services.provider_credential_delete(user=request.user, name=query.validated_data["name"])
        return Response(status=status.HTTP_204_NO_CONTENT)
