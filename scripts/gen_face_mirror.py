"""Derive the left-right symmetry of MediaPipe's face mesh (which point is the mirror image of which).

MediaPipe publishes no symmetry table for its 468 (+10 iris) face points, and a mirrored face whose points
keep their indices cannot be interpolated with an unmirrored one (every point would cross the face). The
table is a property of the mesh: here it is read off the mean face of the Jordanian fingerspelling
recordings that the spoken-to-signed package installs (frontal faces, 25 fps): each face centred, scaled by
the distance between the eyes and turned level, averaged, mirrored, and every point paired with the
nearest point of the mirrored face (an assignment, so the pairing is one to one), then made symmetric.
Writes FACE_MIRROR into syrisign/_topology.py (run scripts/gen_topology.py first).

Run: .venv/bin/python scripts/gen_face_mirror.py
"""
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from syrisign import _topology as topo
from syrisign.data.sources import spoken_to_signed_lexicon
from syrisign.pose import PoseSequence


def mean_face() -> np.ndarray:
    faces = []
    left = [p for loop in topo.FACE_FEATURE_LOOPS["left_eye"] for p in loop]
    right = [p for loop in topo.FACE_FEATURE_LOOPS["right_eye"] for p in loop]
    for f in sorted((spoken_to_signed_lexicon().parent / "jos").glob("*.pose")):
        s = PoseSequence.load(f)
        sl = s.skeleton.slices["face"]
        xy, ok = s.data[:, sl, :2], s.confidence[:, sl] > 0
        for t in np.flatnonzero(ok.all(1)):
            p = xy[t].astype(np.float64)
            le, re = p[left].mean(0), p[right].mean(0)
            d = le - re
            ang = np.arctan2(d[1], d[0])
            rot = np.array([[np.cos(-ang), -np.sin(-ang)], [np.sin(-ang), np.cos(-ang)]])
            q = (p - (le + re) / 2) @ rot.T / np.linalg.norm(d)
            faces.append(q)
    return np.mean(faces, axis=0)


def pairing(face: np.ndarray, idx: list[int]) -> dict[int, int]:
    pts = face[idx]
    mirrored = pts * np.array([-1.0, 1.0])
    cost = np.linalg.norm(mirrored[:, None] - pts[None], axis=-1)
    rows, cols = linear_sum_assignment(cost)
    return {idx[r]: idx[c] for r, c in zip(rows, cols)}


def main() -> None:
    face = mean_face()
    perm = {**pairing(face, list(range(468))), **pairing(face, list(range(468, len(face))))}
    # symmetric: keep mutual pairs; a point whose partner does not point back maps to itself
    table = [perm[i] if perm[perm[i]] == i else i for i in range(len(face))]
    assert all(table[table[i]] == i for i in range(len(table)))
    for a, b in (("left_eye", "right_eye"), ("left_eyebrow", "right_eyebrow"), ("left_iris", "right_iris")):
        pa = {p for e in topo.FACE_FEATURE_EDGES[a] for p in e}
        pb = {p for e in topo.FACE_FEATURE_EDGES[b] for p in e}
        hit = sum(table[p] in pb for p in pa) / len(pa)
        print(f"{a} -> {b}: {hit:.0%} of points land on the other side's feature")
    fixed = sum(table[i] == i for i in range(len(table)))
    print(f"{fixed} points on the midline (their own mirror), {len(table) - fixed} in pairs")
    out = Path(__file__).resolve().parents[1] / "syrisign" / "_topology.py"
    text = out.read_text(encoding="utf-8").split("\n# face mesh left-right mirror")[0].rstrip("\n")
    text += ("\n# face mesh left-right mirror (scripts/gen_face_mirror.py): FACE_MIRROR[i] is the point mirroring i\n"
             f"FACE_MIRROR = {table!r}\n")
    out.write_text(text, encoding="utf-8")
    print(f"wrote FACE_MIRROR into {out}")


if __name__ == "__main__":
    main()
