"""Request bodies."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


# -- request models ---------------------------------------------------------------------------------
class TranslateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"text": "وزارة الصحة", "method": "retrieval", "format": "mp4", "fps": 25}]})

    text: str = Field(min_length=1, description="Arabic text (a headline); the limit is in GET /v1/info "
                                                "(413 past it)")
    method: Literal["retrieval", "generative", "motionclip", "all"] = Field(
        "retrieval", description="retrieval: recorded signs; generative: T2M-GPT; motionclip: MotionCLIP; "
                                 "all: every available method (videos side by side)")
    format: Literal["mp4", "gif", "pose", "json"] = Field(
        "mp4", description="mp4/gif video, .pose file (one method), or JSON with the gloss plan")
    fps: float = Field(25.0, ge=5, le=60, description="output frame rate")
    signed: str | None = Field(None, description="signed language whose signs come first where both "
                                                 "have one: one of the lexicon's (GET /v1/info), e.g. jos, sdl")
    landmarks: bool = Field(True, description="format json: include the landmarks (false: plan and segments)")
    size: int | None = Field(None, ge=128, le=1080, description="mp4/gif: video width in pixels (default: the "
                                                                "server's, GET /v1/info)")
    layout: Literal["square", "portrait"] = Field("square", description="mp4/gif: square, or portrait 9:16 for "
                                                                        "phones (hand close-ups in a row of their own)")
    insets: bool = Field(True, description="mp4/gif: hand close-ups that follow each active hand")


