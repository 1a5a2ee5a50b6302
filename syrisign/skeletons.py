"""Skeleton layouts: joint names, components, limbs, and the registry of known layouts.

A joint is named ``"<component>.<point>"`` (``"pose.LEFT_SHOULDER"``, ``"face.61"``,
``"right_hand.WRIST"``). Layouts that share joint names can be converted into each other
by name (:func:`syrisign.pose.PoseSequence.reduce`), which is how the SyriSign 193 and
SignCLIP 203 reductions are taken from full MediaPipe Holistic recordings.

Coordinates everywhere are image-like: x to the right, y down, z towards the camera
negative (MediaPipe convention). Importers of other conventions (Kinect) convert.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from syrisign import _topology as topo

# Component names used by all layouts. Drawing and hand statistics rely on them.
POSE, FACE, LEFT_HAND, RIGHT_HAND, POSE_WORLD = "pose", "face", "left_hand", "right_hand", "pose_world"

# .pose files (pose-format) name components in MediaPipe's own words.
POSE_FORMAT_NAMES = {
    POSE: "POSE_LANDMARKS",
    FACE: "FACE_LANDMARKS",
    LEFT_HAND: "LEFT_HAND_LANDMARKS",
    RIGHT_HAND: "RIGHT_HAND_LANDMARKS",
    POSE_WORLD: "POSE_WORLD_LANDMARKS",
}


@dataclass(frozen=True)
class Component:
    """A named, contiguous block of joints: ``points`` are the names inside the block."""

    name: str
    points: tuple[str, ...]
    edges: tuple[tuple[int, int], ...] = ()  # local indices into ``points``


@dataclass(frozen=True)
class Skeleton:
    """An ordered list of components; joint i is the i-th point of the concatenation."""

    name: str
    components: tuple[Component, ...]
    description: str = ""
    # Which joints define the body frame used by ``normalize``: (left, right) shoulder names.
    shoulder_joints: tuple[str, str] = ("pose.LEFT_SHOULDER", "pose.RIGHT_SHOULDER")
    wrist_joints: tuple[str, str] = ("pose.LEFT_WRIST", "pose.RIGHT_WRIST")
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    # -- derived tables ---------------------------------------------------------------
    @cached_property
    def joints(self) -> tuple[str, ...]:
        return tuple(f"{c.name}.{p}" for c in self.components for p in c.points)

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    @cached_property
    def index(self) -> dict[str, int]:
        return {j: i for i, j in enumerate(self.joints)}

    @cached_property
    def slices(self) -> dict[str, slice]:
        out, start = {}, 0
        for c in self.components:
            out[c.name] = slice(start, start + len(c.points))
            start += len(c.points)
        return out

    @cached_property
    def limbs(self) -> tuple[tuple[int, int], ...]:
        """Global joint index pairs for drawing."""
        out = []
        for c in self.components:
            off = self.slices[c.name].start
            out.extend((a + off, b + off) for a, b in c.edges)
        return tuple(out)

    def component_of(self, joint: int) -> str:
        for name, sl in self.slices.items():
            if sl.start <= joint < sl.stop:
                return name
        raise IndexError(joint)

    def has(self, component: str) -> bool:
        return component in self.slices

    @cached_property
    def shoulder_idx(self) -> tuple[int, int]:
        return self.index[self.shoulder_joints[0]], self.index[self.shoulder_joints[1]]

    @cached_property
    def wrist_idx(self) -> tuple[int, int]:
        return self.index[self.wrist_joints[0]], self.index[self.wrist_joints[1]]

    @cached_property
    def mirror_permutation(self) -> tuple[int, ...]:
        """Joint permutation for a left-right mirror: hands swap, LEFT_x <-> RIGHT_x.

        Face-mesh points swap with their mirror image (``FACE_MIRROR``, derived from the mesh by
        scripts/gen_face_mirror.py), so a mirrored face can be blended with an unmirrored one.
        """
        perm = []
        for j in self.joints:
            comp, point = j.split(".", 1)
            if comp == FACE and point.isdigit() and int(point) < len(topo.FACE_MIRROR):
                point = str(topo.FACE_MIRROR[int(point)])
            elif comp == LEFT_HAND:
                comp = RIGHT_HAND
            elif comp == RIGHT_HAND:
                comp = LEFT_HAND
            if "LEFT" in point:
                point = point.replace("LEFT", "RIGHT")
            elif "RIGHT" in point:
                point = point.replace("RIGHT", "LEFT")
            elif point.endswith(("L", "R")) and comp == "body":  # Kinect names: ShoulderL
                point = point[:-1] + ("R" if point.endswith("L") else "L")
            perm.append(self.index.get(f"{comp}.{point}", self.index[j]))
        return tuple(perm)

    def select(self, joint_names: list[str] | tuple[str, ...]) -> list[int]:
        """Indices of the given joint names; raises KeyError naming the first missing joint."""
        missing = [j for j in joint_names if j not in self.index]
        if missing:
            raise KeyError(f"skeleton {self.name!r} has no joint {missing[0]!r} ({len(missing)} missing)")
        return [self.index[j] for j in joint_names]


# -- building blocks -------------------------------------------------------------------
def _edges_within(edges, keep: list[int]) -> tuple[tuple[int, int], ...]:
    """Re-index global edges onto a subset of points, dropping edges that leave it."""
    pos = {p: i for i, p in enumerate(keep)}
    return tuple((pos[a], pos[b]) for a, b in edges if a in pos and b in pos)


def _pose(keep: list[int] | None = None) -> Component:
    keep = list(range(33)) if keep is None else keep
    return Component(POSE, tuple(topo.POSE_NAMES[i] for i in keep), _edges_within(topo.POSE_EDGES, keep))


def _face(keep: list[int] | None = None, total: int = 468) -> Component:
    keep = list(range(total)) if keep is None else keep
    return Component(FACE, tuple(str(i) for i in keep), _edges_within(topo.FACE_CONTOUR_EDGES, keep))


def _hand(side: str) -> Component:
    return Component(side, tuple(topo.HAND_NAMES), tuple(topo.HAND_EDGES))


UPPER_POSE = list(range(23))  # drop hips, knees, ankles, heels, feet (indices 23-32)
ASL_APP_FACE = [0, 1, 4, 13, 14, 17, 33, 61, 63, 66, 70, 78, 105, 107, 133, 145, 148, 152, 159, 176, 263,
                291, 293, 296, 300, 308, 334, 336, 362, 374, 377, 386, 400]  # asl_app/metadata.json face_indices

KINECT_NAMES = ["Head", "Neck", "ShoulderL", "ShoulderR", "ElbowL", "ElbowR", "WristL", "WristR", "HandL", "HandR",
                "SpineMid", "SpineBase", "HipL", "HipR", "KneeL", "KneeR", "AnkleL", "AnkleR", "FootL", "FootR"]
_KINECT_EDGES = [("Head", "Neck"), ("Neck", "ShoulderL"), ("Neck", "ShoulderR"), ("ShoulderL", "ElbowL"),
                 ("ElbowL", "WristL"), ("WristL", "HandL"), ("ShoulderR", "ElbowR"), ("ElbowR", "WristR"),
                 ("WristR", "HandR"), ("Neck", "SpineMid"), ("SpineMid", "SpineBase"), ("SpineBase", "HipL"),
                 ("SpineBase", "HipR"), ("HipL", "KneeL"), ("KneeL", "AnkleL"), ("AnkleL", "FootL"),
                 ("HipR", "KneeR"), ("KneeR", "AnkleR"), ("AnkleR", "FootR")]


def _kinect() -> Component:
    return Component("body", tuple(KINECT_NAMES),
                     tuple((KINECT_NAMES.index(a), KINECT_NAMES.index(b)) for a, b in _KINECT_EDGES))


SKELETONS: dict[str, Skeleton] = {}


def register(skeleton: Skeleton) -> Skeleton:
    SKELETONS[skeleton.name] = skeleton
    return skeleton


HOLISTIC_543 = register(Skeleton(
    "holistic543", (_pose(), _face(), _hand(LEFT_HAND), _hand(RIGHT_HAND)),
    "MediaPipe Holistic: pose 33, face mesh 468, left and right hand 21 each"))
POSE_586 = register(Skeleton(
    "holistic586", (_pose(), _face(total=478), _hand(LEFT_HAND), _hand(RIGHT_HAND),
                    Component(POSE_WORLD, tuple(topo.POSE_NAMES), tuple(topo.POSE_EDGES))),
    "MediaPipe Holistic as stored in .pose files: pose 33, face 478 (with iris), hands 21+21, world pose 33"))
SYRISIGN_193 = register(Skeleton(
    "syrisign193", (_pose(UPPER_POSE), _face(topo.FACE_CONTOUR_POINTS), _hand(LEFT_HAND), _hand(RIGHT_HAND)),
    "SyriSign paper reduction: upper-body pose 23, face contour 128, hands 42"))
SIGNCLIP_203 = register(Skeleton(
    "signclip203", (_pose(), _face(topo.FACE_CONTOUR_POINTS), _hand(LEFT_HAND), _hand(RIGHT_HAND)),
    "SignCLIP reduction: pose 33, face contour 128, hands 42"))
HANDS_BODY_65 = register(Skeleton(
    "upper65", (_pose(UPPER_POSE), _hand(LEFT_HAND), _hand(RIGHT_HAND)),
    "Face-less SyriSign variant (the T2M-GPT-ARABIC setting): upper-body pose 23, hands 42"))
KINECT_20 = register(Skeleton(
    "kinect20", (_kinect(),), "Kinect v1: 20 body joints, no hands or face",
    shoulder_joints=("body.ShoulderL", "body.ShoulderR"), wrist_joints=("body.WristL", "body.WristR")))
ASL_APP_108 = register(Skeleton(
    "aslapp108", (_pose(), _face(ASL_APP_FACE), _hand(LEFT_HAND), _hand(RIGHT_HAND)),
    "ASL-App landmarks: pose 33, face subset 33, hands 42"))


def get_skeleton(name: str | Skeleton) -> Skeleton:
    """Look a layout up by name; the error lists the known names."""
    if isinstance(name, Skeleton):
        return name
    try:
        return SKELETONS[name]
    except KeyError:
        raise KeyError(f"unknown skeleton {name!r}; known: {', '.join(sorted(SKELETONS))}") from None


def available_skeletons() -> list[str]:
    return sorted(SKELETONS)
