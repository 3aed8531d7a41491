"""The demo provider's sign-up screens: one PNG per flow version, drawn from a fixed layout
(no clock, no randomness), whose SHA-256 the demo's assent records carry.

A clickwrap case turns on what was on the screen, so the demo shows one: the Terms link,
the unticked box and the button that says what clicking it means.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from casework.demo.world.provider import TERMS_SAMPLES, TERMS_SLUG

# Flow version -> (Terms version it presented, live from, live until, heading, button).
FLOWS = {
    "signup-v3": (
        "2025-06-01",
        "2025-06-01T00:00:00Z",
        "2026-01-01T00:00:00Z",
        "Create your Aster API account",
        "Agree and create account",
    ),
    "signup-v4": (
        "2026-01-01",
        "2026-01-01T00:00:00Z",
        None,
        "Create your Aster API account",
        "Agree and create account",
    ),
    "reaccept-2026-01": (
        "2026-01-01",
        "2025-12-15T00:00:00Z",
        None,
        "We have updated the Aster Services Agreement",
        "Agree and continue",
    ),
}
SCREENS_DIR = "screens"
WIDTH, HEIGHT = 720, 520


def _screen_png(flow: str) -> bytes:
    version, _from, _until, heading, button = FLOWS[flow]
    title = TERMS_SAMPLES[TERMS_SLUG][0]
    font = ImageFont.load_default()
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, WIDTH, 48), fill=(32, 42, 68))
    draw.text((24, 18), "Aster  |  platform.aster.example/" + flow, fill="white", font=font)
    draw.text((60, 80), heading, fill="black", font=font)
    y = 120
    if flow.startswith("signup"):
        for label in ("Work email", "Password", "Organisation"):
            draw.text((60, y), label, fill=(60, 60, 60), font=font)
            draw.rectangle((60, y + 16, 660, y + 46), outline=(150, 150, 150))
            y += 70
    else:
        for line in (
            f"Version {version} of the {title} takes effect on {version}.",
            "Read what changed before you continue to use the API.",
        ):
            draw.text((60, y), line, fill="black", font=font)
            y += 24
        y += 40
    draw.rectangle((60, y + 4, 74, y + 18), outline="black")  # unticked by default
    lead = "I have read and agree to the "
    draw.text((84, y + 4), lead, fill="black", font=font)
    link = f"{title} (version {version})"
    x = 84 + draw.textlength(lead, font=font)
    draw.text((x, y + 4), link, fill=(20, 70, 200), font=font)
    draw.line((x, y + 18, x + draw.textlength(link, font=font), y + 18), fill=(20, 70, 200))
    y += 50
    draw.rectangle((60, y, 300, y + 40), fill=(20, 70, 200))
    draw.text((80, y + 14), button, fill="white", font=font)
    draw.text(
        (60, y + 60),
        "By clicking the button you accept these Terms on behalf of your organisation.",
        fill=(60, 60, 60),
        font=font,
    )
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False, compress_level=9)
    return out.getvalue()


def screens_write(out_dir: Path) -> dict[str, dict]:
    """Write each flow's screen under `out_dir/screens/`; returns them by flow with hash."""
    folder = Path(out_dir) / SCREENS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for flow, (version, shown_from, shown_until, _h, _b) in FLOWS.items():
        payload = _screen_png(flow)
        (folder / f"{flow}.png").write_bytes(payload)
        written[flow] = {
            "file": f"{SCREENS_DIR}/{flow}.png",
            "sha256": hashlib.sha256(payload).hexdigest(),
            "terms": f"{TERMS_SLUG}:{version}",
            "shown_from": shown_from,
            "shown_until": shown_until,
        }
    return written
