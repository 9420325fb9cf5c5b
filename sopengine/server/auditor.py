"""Routes of the office server (see :mod:`sopengine.server.app`)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
