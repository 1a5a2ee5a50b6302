"""Skeleton animation rendering: PoseSequence -> RGB frames -> mp4 / gif / png.

    from render import render_frames, write_video, side_by_side
    write_video(seq, "out.mp4", captions=[(0, 30, "مرحبا", "hello")], title="retrieval")
    write_video(side_by_side([("retrieval", a, caps_a), ("T2M-GPT", b, caps_b)]), "compare.mp4")

Pure drawing and encoding: imports ``syrisign.pose`` / ``syrisign.skeletons`` only, never torch.
"""
from render.captions import Caption, as_captions, shape_text
from render.draw import Framing, RenderError, RenderStyle, limb_groups
from render.video import Frames, Panel, contact_sheet, render_frames, side_by_side, write_video

__all__ = ["Caption", "Frames", "Framing", "Panel", "RenderError", "RenderStyle", "as_captions", "contact_sheet",
           "limb_groups", "render_frames", "shape_text", "side_by_side", "write_video"]
