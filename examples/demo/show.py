"""Print what every job of a batch produced (the demo's last step). Usage: show.py BATCH_ID"""

from __future__ import annotations

import sys

import jobworker


def main(batch_id: str) -> None:
    client = jobworker.connect()
    for job in sorted(client.list(batch_id=batch_id, limit=1000), key=lambda j: j.created_at):
        print(f"\n== {job.job_name} [{job.job_type}] {job.status.value}")
        if job.error:
            print(f"   error {job.error.code}: {job.error.message}")
            continue
        results = job.results or {}
        data = results.get("structured_data") or {}
        text = (
            results.get("markdown_content")
            or results.get("video_transcript")
            or data.get("text")
            or (data.get("data") or {}).get("extracted_text")
            or ""
        )
        if text:
            print("   " + " ".join(str(text).split())[:300])
        for key in ("markdown_file", "archive_filename", "target_dir"):
            if results.get(key):
                print(f"   {key}: {results[key]}")
        if results.get("assets"):
            print(f"   assets: {len(results['assets'])} files")


if __name__ == "__main__":
    main(sys.argv[1])
