from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from . import selectors


class SafetyCheckOutput(serializers.Serializer):
    passed = serializers.BooleanField()
    score = serializers.FloatField(allow_null=True)
    threshold = serializers.FloatField()
    detail = serializers.CharField()
    phase = serializers.ChoiceField(["before", "during", "after"])


class SafetyReportOutput(serializers.Serializer):
    job_id = serializers.UUIDField(source="job.job_id")
    breaker_state = serializers.CharField(help_text="closed | tripped | approved | rejected")
    deploy_allowed = serializers.SerializerMethodField()
    failed_checks = serializers.ListField(child=serializers.CharField())
    reason = serializers.CharField()
    checks = serializers.DictField(child=SafetyCheckOutput(), help_text="each with its measurements besides these fields")
    decision_reason = serializers.CharField()
    decided_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()

    def get_deploy_allowed(self, report) -> bool:
        return not report.blocks_deploy

    def to_representation(self, report):
        data = super().to_representation(report)
        data["checks"] = report.checks  # every measurement, not only the documented fields
        return data


class SafetyReportApi(APIView):
    @extend_schema(responses={200: SafetyReportOutput}, operation_id="safety_report_retrieve")
    def get(self, request, job_id):
        report = selectors.safety_report_visible_to(user=request.user, job_id=job_id)
        if report is None:
            raise Http404("No safety report for this job (it is not yours, or it has not finished).")
        return Response(SafetyReportOutput(report).data)
