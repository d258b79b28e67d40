#!/usr/bin/python3
# The Pillow reference of tests/bench/run: the origin app's thumbnail code
# (open, draft, exif_transpose, thumbnail, save JPEG q80), in-process.
#   pillow.py cpu N FILE      median CPU ms per image over N renders (after
#                             one to warm up): "ms <median>"
#   pillow.py rate SECS FILE  renders one after another for SECS seconds of
#                             wall time: "images <n> seconds <s>"
# Debian's python3-pil; run one "rate" process per core for the throughput.
import io
import sys
import time

from PIL import Image, ImageOps


def render(path, box=256):
    im = Image.open(path)
    im.draft("RGB", (box, box))
    im = ImageOps.exif_transpose(im)
    im.thumbnail((box, box))
    if im.mode not in ("RGB", "L"):
        im = im.convert("RGB")  # JPEG has no alpha, no palette
    out = io.BytesIO()
    im.save(out, "JPEG", quality=80)
    return out.getvalue()


def main():
    mode, arg, path = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    render(path)
    if mode == "cpu":
        times = []
        for _ in range(int(arg)):
            t = time.process_time()
            render(path)
            times.append(time.process_time() - t)
        times.sort()
        print("ms %.3f" % (times[len(times) // 2] * 1000))
    else:
        n, t0 = 0, time.monotonic()
        while time.monotonic() - t0 < arg:
            render(path)
            n += 1
        print("images %d seconds %.3f" % (n, time.monotonic() - t0))


main()
