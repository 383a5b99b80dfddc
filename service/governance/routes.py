"""``GET /cds-services/source-attributes``: the intervention's source attributes (``attributes``), public like the
knowledge file it is generated from (no patient data, no JWT needed)."""

from __future__ import annotations

from functools import cache

import orjson
from fastapi import APIRouter
from starlette.responses import Response

from service.governance.attributes import PATH, source_attributes

router = APIRouter(tags=["Governance"])


@cache
def _body() -> bytes:
    return orjson.dumps(source_attributes())


@router.get(PATH, summary="Source attributes (ONC HTI-1) of every rule and of the service")
async def source_attributes_document() -> Response:
    return Response(_body(), media_type="application/json")
