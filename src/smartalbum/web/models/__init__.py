"""The API's request and response models: the one source of validation, serialization and
the OpenAPI document (see :mod:`smartalbum.web.contract`). One module per blueprint."""
