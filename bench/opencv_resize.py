"""The resize stage's work in OpenCV: grayscale decode, polarity, contrast stretch, Otsu ink box crop,
aspect-preserving fit into size x size with padding, scale to [0,1].

Usage: python3 opencv_resize.py <folder> <size> <repeats>
Prints one JSON line with images per second (median over repeats).
"""
import json
import os
import sys
import time

import cv2
import numpy as np

folder, size, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
cv2.setNumThreads(2)
files = sorted(os.path.join(folder, f) for f in os.listdir(folder))


def normalise(path):
    g = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    ink = 255 - g if np.median(g) >= 128 else g
    t, _ = cv2.threshold(ink, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    paper = np.median(ink)
    strokes = ink[ink > t]
    full = np.percentile(strokes, 90) if strokes.size else 255
    ink = np.clip((ink.astype(np.float32) - paper) * 255 / max(1, full - paper), 0, 255).astype(np.uint8)
    ys, xs = np.nonzero(ink > 96)
    if xs.size:
        m = int(round(0.06 * max(xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)))
        ink = ink[max(0, ys.min() - m):ys.max() + m + 1, max(0, xs.min() - m):xs.max() + m + 1]
    h, w = ink.shape
    s = size / max(h, w)
    nh, nw = max(1, round(h * s)), max(1, round(w * s))
    small = cv2.resize(ink, (nw, nh), interpolation=cv2.INTER_AREA)
    out = np.zeros((size, size), np.uint8)
    y0, x0 = (size - nh) // 2, (size - nw) // 2
    out[y0:y0 + nh, x0:x0 + nw] = small
    return out.astype(np.float32) / 255


rates = []
for _ in range(repeats):
    t0 = time.perf_counter()
    for f in files:
        normalise(f)
    rates.append(len(files) / (time.perf_counter() - t0))
print(json.dumps({"images_per_second": sorted(rates)[len(rates) // 2], "images": len(files), "opencv": cv2.__version__}))
