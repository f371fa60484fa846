"""Embedded mode (`jetdeck up`): one process supervising real servers from PyPI packages."""
