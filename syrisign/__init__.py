"""SyriSign: Arabic text to sign language as MediaPipe skeleton animation."""

__version__ = "0.1.0"
