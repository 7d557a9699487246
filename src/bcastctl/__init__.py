"""bcastctl: deploy, verify and probe a multi-region WebRTC broadcaster."""

__version__ = "0.1.0"
