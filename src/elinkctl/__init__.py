"""elinkctl: the E-Link-23-03 incident procedure as a git-backed command-line desk."""

__version__ = "0.1.0"
