"""Shared machinery of the model families: device, checkpoints, pose features, training loop, text encoders.

Everything here imports torch lazily or at module level only inside this subpackage, so the core
(``syrisign.pose``, ``syrisign.data``, ``render``) stays usable without torch.
"""
