"""Uploaded media under MEDIA_URL, served only to who may read it (coaching/services/media.py
says who).

Local storage: Django sends the file with byte ranges (a video player seeks with them),
or, behind nginx (MEDIA_ACCEL_REDIRECT), hands the sending to nginx's internal
/_protected_media/ location after the check. Other storage (S3): a redirect to the
storage's own signed, time-limited URL.
"""

import mimetypes
import re
from urllib.parse import quote, urlsplit

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.views.decorators.http import require_safe

from coaching.errors import ServiceError
from coaching.services.media import check_media_read

ACCEL_PREFIX = "/_protected_media/"
# A share link's pages (its live room, its replay): the link in the Referer, which those
# pages send to this site only (Referrer-Policy: same-origin).
_share_page = re.compile(r"^/shared/([A-Za-z0-9_-]{1,40})/([A-Za-z0-9_-]{1,100})/")
_range = re.compile(r"^bytes=(\d*)-(\d*)$")
READ_BLOCK = 256 * 1024


def _read(path: str, start: int, length: int):
    with open(path, "rb") as file:
        file.seek(start)
        while length > 0 and (data := file.read(min(READ_BLOCK, length))):
            length -= len(data)
            yield data


def _ranged(request: HttpRequest, path: str, size: int, content_type: str) -> HttpResponse:
    """The file, or the one byte range asked for (206), or 416 for a range past its end."""
    match = _range.match(request.headers.get("Range", "").strip())
    if not match or match.groups() == ("", ""):
        response: HttpResponse = FileResponse(open(path, "rb"), content_type=content_type)
        response["Accept-Ranges"] = "bytes"
        return response
    first, last = match.groups()
    if first:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    else:
        start, end = max(size - int(last), 0), size - 1
    if start >= size or start > end:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    response = StreamingHttpResponse(
        _read(path, start, end - start + 1), status=206, content_type=content_type
    )
    response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Content-Length"] = str(end - start + 1)
    response["Accept-Ranges"] = "bytes"
    return response


@require_safe
def media_file(request: HttpRequest, name: str) -> HttpResponse:
    """An uploaded swing's video or poster, for a user who may see its lesson, a signed
    link, or a page of a share link of the lesson."""
    shared = _share_page.match(urlsplit(request.headers.get("Referer", "")).path)
    try:
        check_media_read(
            request.user, name, request.GET.get("sig"), shared.groups() if shared else None
        )
    except ServiceError:
        raise Http404("No such file.") from None
    if not default_storage.exists(name):
        raise Http404("No such file.")
    try:
        path = default_storage.path(name)
    except NotImplementedError:  # remote storage: its own signed link
        return HttpResponseRedirect(default_storage.url(name))
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if settings.MEDIA_ACCEL_REDIRECT:
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = ACCEL_PREFIX + quote(name)
    else:
        response = _ranged(request, path, default_storage.size(name), content_type)
    response["Cache-Control"] = "private, max-age=3600"
    return response
