"""An export's file as an HTTP download, shared by the job's artifacts route and the marketplace's."""

from django.conf import settings
from django.http import FileResponse, Http404


def artifact_download_response(artifact) -> FileResponse:
    """An export's file as an attachment (never rendered: nosniff), with its checksum; 404 when the
    export or its file is missing, or its path would leave MEDIA_ROOT."""
    if artifact is None:
        raise Http404("No such export.")
    path = (settings.MEDIA_ROOT / artifact.path).resolve()
    if not path.is_file() or settings.MEDIA_ROOT.resolve() not in path.parents:
        raise Http404("The export's file is missing.")
    response = FileResponse(open(path, "rb"), as_attachment=True, filename=path.name,
                            content_type="application/octet-stream")
    response["X-Content-Type-Options"] = "nosniff"
    response["X-Checksum-SHA256"] = artifact.sha256
    return response
