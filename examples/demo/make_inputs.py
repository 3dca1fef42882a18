"""Make the demo's inputs and its batch file (``demo.jsonl``) in a folder.

Everything is generated here, nothing downloaded: a text, a three-page PDF report, a scanned
page (an image of German text), recorded speech (flite's ``slt`` voice, which the small Whisper
model transcribes word for word, unlike espeak-ng's robotic one), its text as ``speech.txt`` for
checking the transcript, and a conference session: its page, a talk video with that speech, and a
PDF slide deck. Usage: python make_inputs.py DIR
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from fpdf import FPDF
from PIL import Image, ImageDraw, ImageFont
from worker_plugin_audio.testing import speech_wav
from worker_plugin_session.testing import session_page, slide_deck
from worker_plugin_video.testing import make_video

HERE = Path(__file__).resolve().parent
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
SPEECH = (
    "Cities publish their budgets as open data. Citizens can follow the spending "
    "and ask better questions."
)
GERMAN = [
    "Öffentliche Haushalte gehören",
    "allen Bürgerinnen und Bürgern.",
    "Transparenz schafft Vertrauen.",
]


def report_pdf(path: Path) -> None:
    pdf = FPDF()
    pdf.set_title("Open budgets report")
    pdf.set_author("jobworker demo")
    pdf.set_font("Helvetica", size=14)
    for page in (
        "Summary: spending rose by four percent.",
        "Details: schools and transport received most.",
        "Outlook: the portal adds monthly updates.",
    ):
        pdf.add_page()
        pdf.multi_cell(0, 10, text=page)
    pdf.output(str(path))


def scanned_page(path: Path) -> None:
    image = Image.new("L", (2000, 700), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(FONT, 64)
    for i, line in enumerate(GERMAN):
        draw.text((100, 120 + i * 150), line, font=font, fill=0)
    image.save(path, dpi=(300, 300))


def main(target: Path) -> None:
    inputs = target / "inputs"
    session = inputs / "session"
    session.mkdir(parents=True, exist_ok=True)
    shutil.copy(HERE.parent / "jobs" / "texts" / "alice.txt", inputs / "alice.txt")
    report_pdf(inputs / "report.pdf")
    scanned_page(inputs / "scan.png")
    speech_wav(inputs / "speech.wav", SPEECH, engine="flite")
    (inputs / "speech.txt").write_text(SPEECH + "\n")  # what was said: the transcript's check
    (session / "page.html").write_text(session_page("Open budgets for everyone"))
    slide_deck(session / "slides.pdf", ["Open budgets", "Follow the money"])
    make_video(
        session / "talk.mp4",
        ["Open budgets", "Follow the money"],
        seconds_per_slide=4.0,
        audio=inputs / "speech.wav",
    )
    jobs = [
        {
            "job_type": "wordstats",
            "job_name": "Word statistics of a text",
            "parameters": {"file_path": "inputs/alice.txt", "top": 5},
        },
        {
            "job_type": "pdf",
            "job_name": "Text of a PDF report",
            "parameters": {"file_path": "inputs/report.pdf", "page_start": 1, "page_end": 2},
        },
        {
            "job_type": "ocr",
            "job_name": "OCR of a scanned German page",
            "parameters": {"file_path": "inputs/scan.png", "languages": "deu"},
        },
        {
            "job_type": "audio",
            "job_name": "Transcript of recorded speech",
            "parameters": {
                "file_path": "inputs/speech.wav",
                "operations": ["metadata", "transcribe"],
            },
        },
        {
            "job_type": "video",
            "job_name": "Thumbnails of a talk video",
            "parameters": {
                "file_path": "inputs/session/talk.mp4",
                "operations": ["metadata", "thumbnails"],
                "thumbnail_count": 3,
            },
        },
        {
            "job_type": "transform",
            "job_name": "Language and summary of a text",
            "parameters": {
                "file_path": "inputs/alice.txt",
                "template": "Summary",
                "operations": ["detect_language", "summarize"],
                "summary_words": 60,
            },
        },
        {
            "job_type": "session",
            "job_name": "A conference session into a document",
            "parameters": {
                "event": "Demo Conference",
                "session": "Open budgets for everyone",
                "track": "Civic tech",
                "filename": "open-budgets",
                "url": "inputs/session/page.html",
                "video_url": "inputs/session/talk.mp4",
                "attachments_url": "inputs/session/slides.pdf",
            },
        },
    ]
    (target / "demo.jsonl").write_text("".join(json.dumps(j) + "\n" for j in jobs))


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "."))
