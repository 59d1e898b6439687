"""Make the demo swing clip that `seed_demo` attaches: static/demo/swing-demo.mp4 + poster.

A stick-figure golfer swings a club (address → top → impact → finish) on generated
frames; ffmpeg encodes them as H.264 (yuv420p, main profile, fast start), which
Chromium, Firefox and Safari play. Each frame shows its time and number, so what a
player shows can be checked by eye. The clip is committed: set-up never runs this.

Needs Pillow (a dev dependency) and ffmpeg (`apt-get install ffmpeg`):
    .venv/bin/python scripts/make_demo_swing.py
The output is the same for the same Pillow and ffmpeg versions (single-threaded,
bit-exact encoding, no metadata).
"""

import math
import shutil
import subprocess
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 480, 360
FPS = 30
DURATION_MS = 3500
FRAMES = DURATION_MS * FPS // 1000
# Where the swing is at each phase, in ms: also the swing's `key_frames` in seed_demo.
KEY_FRAMES = {"address": 300, "top": 1500, "impact": 1800, "finish": 2500}
OUT_DIR = Path(__file__).resolve().parents[1] / "static" / "demo"
VIDEO = OUT_DIR / "swing-demo.mp4"
POSTER = OUT_DIR / "swing-demo.jpg"

SHOULDER = (240.0, 130.0)  # the arms swing around this point
ARM, CLUB = 88.0, 70.0
GROUND_Y = 318
BALL = (246.0, GROUND_Y - 6)


def ease_in_out(x: float) -> float:
    return 0.5 - 0.5 * math.cos(math.pi * x)


def pose(ms: float) -> tuple[float, float]:
    """(arm angle, wrist hinge) in degrees; 0 = hanging straight down, + = to the right."""
    address, top, impact, finish = KEY_FRAMES.values()
    if ms <= address:
        return 0.0, 0.0
    if ms <= top:  # backswing: slow and smooth
        x = ease_in_out((ms - address) / (top - address))
        return -140 * x, -120 * x
    if ms <= impact:  # downswing: accelerating
        x = ((ms - top) / (impact - top)) ** 2
        return -140 * (1 - x), -120 * (1 - x)
    if ms <= finish:  # follow-through: slowing down
        x = 1 - (1 - (ms - impact) / (finish - impact)) ** 2
        return 150 * x, 100 * x
    return 150.0, 100.0


def phase(ms: float) -> str:
    names = list(KEY_FRAMES)
    reached = [name for name in names if KEY_FRAMES[name] <= ms]
    return reached[-1] if reached else "address"


def point(origin: tuple[float, float], length: float, degrees: float) -> tuple[float, float]:
    angle = math.radians(degrees)
    return origin[0] + length * math.sin(angle), origin[1] + length * math.cos(angle)


def draw_frame(index: int, font: ImageFont.ImageFont) -> Image.Image:
    ms = index * 1000 / FPS
    image = Image.new("RGB", (WIDTH, HEIGHT))
    draw = ImageDraw.Draw(image)
    for y in range(GROUND_Y):  # sky
        shade = int(170 + 60 * y / GROUND_Y)
        draw.line([(0, y), (WIDTH, y)], fill=(120, shade, 235))
    draw.rectangle([0, GROUND_Y, WIDTH, HEIGHT], fill=(70, 150, 70))

    arm, hinge = pose(ms)
    hands = point(SHOULDER, ARM, arm)
    head = point(hands, CLUB, arm + hinge)
    body = (40, 40, 40)
    draw.ellipse([222, 62, 258, 98], outline=body, width=4)  # head
    draw.line([(240, 98), (240, 205)], fill=body, width=5)  # spine
    draw.line([(240, 205), (205, GROUND_Y - 2)], fill=body, width=5)  # legs
    draw.line([(240, 205), (275, GROUND_Y - 2)], fill=body, width=5)
    for shoulder_x in (228, 252):  # arms, both hands on the grip
        draw.line([(shoulder_x, 122), hands], fill=body, width=4)
    draw.line([hands, head], fill=(200, 200, 210), width=3)  # shaft
    draw.ellipse([head[0] - 6, head[1] - 4, head[0] + 6, head[1] + 4], fill=(90, 90, 100))

    impact = KEY_FRAMES["impact"]
    flight = max(0.0, ms - impact) / 1000
    ball = (BALL[0] + 700 * flight, BALL[1] - 420 * flight + 300 * flight**2)
    if ball[0] < WIDTH + 10:
        draw.ellipse([ball[0] - 5, ball[1] - 5, ball[0] + 5, ball[1] + 5], fill="white")

    draw.rectangle([0, 0, WIDTH, 26], fill=(20, 20, 20))
    draw.text((8, 5), "INSwing demo swing", fill="white", font=font)
    draw.text((WIDTH - 8, 5), phase(ms), fill=(255, 210, 80), font=font, anchor="ra")
    draw.rectangle([0, HEIGHT - 26, WIDTH, HEIGHT], fill=(20, 20, 20))
    draw.text((8, HEIGHT - 21), f"{ms / 1000:.2f} s", fill="white", font=font)
    draw.text((WIDTH - 8, HEIGHT - 21), f"frame {index}", fill="white", font=font, anchor="ra")
    return image


def main() -> int:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        print("ffmpeg is needed: apt-get install -y ffmpeg", file=sys.stderr)
        return 1
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    font = ImageFont.load_default(size=15)
    frames = [draw_frame(i, font) for i in range(FRAMES)]
    encode = [
        ffmpeg, "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{WIDTH}x{HEIGHT}", "-r", str(FPS),
        "-i", "-",
        "-c:v", "libx264", "-profile:v", "main", "-pix_fmt", "yuv420p", "-crf", "26",
        "-g", str(FPS // 3),  # a keyframe every 10 frames: quick, exact seeks
        "-threads", "1", "-movflags", "+faststart", "-map_metadata", "-1",
        "-fflags", "+bitexact", "-flags:v", "+bitexact", "-an",
        str(VIDEO),
    ]  # fmt: skip
    subprocess.run(encode, input=b"".join(f.tobytes() for f in frames), check=True)
    frames[round(KEY_FRAMES["address"] * FPS / 1000)].save(POSTER, quality=80, optimize=True)
    print(f"{VIDEO}: {VIDEO.stat().st_size} bytes, {FRAMES} frames, {DURATION_MS} ms")
    print(f"{POSTER}: {POSTER.stat().st_size} bytes")
    print(f"key_frames: {KEY_FRAMES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
