"""On-device deployment: ``smartalbum export --mobile OUT`` writes a mobile bundle.

A mobile bundle is the server's model in a form a phone app can run with ONNX Runtime
Mobile and a few hundred lines of array code: the int8 backbone in ORT format, the heads
and preprocessing as JSON, and ``reference.py``, a numpy program that reproduces the
server's predictions and serves as the specification for ports (docs/mobile.md).
Nothing in this package imports torch or the ``onnx`` package.
"""

from smartalbum.mobile.export import MobileExportError, export_mobile

__all__ = ["MobileExportError", "export_mobile"]
