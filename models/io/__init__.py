"""Decoding: image files into RGB pixels (``images``), videos into frames (``video``), and the
image files under the paths a user names (``files``)."""
