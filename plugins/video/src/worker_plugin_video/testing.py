"""Fixture makers for tests and benchmarks: videos written with PyAV from numpy frames.

:func:`make_video` writes slides (text rendered with Pillow on coloured backgrounds) as H.264
in MP4, optionally with the audio of a WAV file (e.g. espeak-ng speech) as AAC. Every slide
starts with a keyframe, so keyframe thumbnails and slide OCR find each slide.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import av
import numpy as np
from av.video.stream import VideoStream
from PIL import Image, ImageDraw, ImageFont
from worker_plugin_audio.api import add_audio_stream

__all__ = ["TALK_SLIDES", "make_video", "slide_image"]

TALK_SLIDES = ("Hello World", "Second Slide", "Thank you")
_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
_COLOURS = [(250, 250, 245), (230, 240, 255), (255, 240, 225), (235, 255, 235)]


def slide_image(text: str, size: tuple[int, int] = (640, 360), index: int = 0) -> Image.Image:
    """A slide: dark ``text`` centred on a light background."""
    image = Image.new("RGB", size, _COLOURS[index % len(_COLOURS)])
    draw = ImageDraw.Draw(image)
    try:
        font: ImageFont.ImageFont | ImageFont.FreeTypeFont = ImageFont.truetype(
            _FONT, max(12, size[1] // 9)
        )
    except OSError:
        font = ImageFont.load_default()
    box = draw.multiline_textbbox((0, 0), text, font=font, align="center")
    x = (size[0] - (box[2] - box[0])) // 2
    y = (size[1] - (box[3] - box[1])) // 2
    draw.multiline_text((x, y), text, fill=(20, 20, 30), font=font, align="center")
    draw.rectangle((0, size[1] - 8, size[0] * (index + 1) // 8, size[1]), fill=(40, 90, 200))
    return image


def make_video(
    path: Path,
    slides: Sequence[str] = ("Hello", "World"),
    *,
    seconds_per_slide: float = 2.0,
    fps: int = 10,
    size: tuple[int, int] = (640, 360),
    audio: Path | None = None,
    codec: str = "libx264",
    container: str | None = None,
    moving: bool = True,
) -> Path:
    """Write a video of ``slides`` (each ``seconds_per_slide`` long, keyframe at each start).

    :param audio: a WAV/any audio file whose first audio stream becomes an AAC track.
    :param moving: draw a small moving square so consecutive frames differ.
    """
    width, height = size
    with av.open(str(path), "w", format=container) as out:
        vs = out.add_stream(codec, rate=fps)
        if not isinstance(vs, VideoStream):
            raise ValueError(f"{codec!r} is not a video encoder")
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        if codec == "libx264":
            vs.options = {
                "preset": "ultrafast",
                "g": str(int(fps * seconds_per_slide)),
                "sc_threshold": "0",
            }
        src = av.open(str(audio)) if audio is not None else None
        astream = None
        if src is not None:
            rate = int(src.streams.audio[0].codec_context.sample_rate)
            astream = add_audio_stream(out, "aac", rate, "mono")
        per_slide = max(1, round(fps * seconds_per_slide))
        index = 0
        for s, text in enumerate(slides):
            base = np.asarray(slide_image(text, size, s))
            for i in range(per_slide):
                pixels = base.copy()
                if moving:
                    x = (i * 7) % max(1, width - 24)
                    pixels[8:24, x : x + 16] = (200, 30, 30)
                frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
                frame.pts = index
                frame.pict_type = (
                    av.video.frame.PictureType.I if i == 0 else av.video.frame.PictureType.NONE
                )
                index += 1
                out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
        if src is not None and astream is not None:
            with src:
                for aframe in src.decode(src.streams.audio[0]):
                    aframe.pts = None
                    out.mux(astream.encode(aframe))
            out.mux(astream.encode(None))
    return path
