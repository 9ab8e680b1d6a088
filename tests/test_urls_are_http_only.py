"""The SDK and the demo command open only http(s) addresses: urllib would also read file: and ftp:."""

import pytest
from django.core.management import CommandError, call_command

from prsm.distillation import DistillationOrchestrator
from prsm.sdk import SdkError


@pytest.mark.parametrize("address", ["file:///etc/passwd", "ftp://example.com", "localhost:8000"])
def test_the_sdk_refuses_a_server_address_that_is_not_http(address):
    with pytest.raises(SdkError, match="must start with http:// or https://"):
        DistillationOrchestrator(base_url=address, token="key")
    assert DistillationOrchestrator(base_url="https://prsm.example", token="key").mode == "remote"


def test_the_demo_command_refuses_a_base_url_that_is_not_http(db):
    with pytest.raises(CommandError, match="--base-url must start with http"):
        call_command("demo_job", "--base-url", "file:///etc/passwd")
