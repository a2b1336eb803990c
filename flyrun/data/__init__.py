"""Files and directories through fsspec: local disk, S3 (s3fs) and GCS (gcsfs).

``fs`` builds a file system for a URI from the run's storage settings and turns storage failures into
``StorageError``; ``transfer`` holds atomic writes and streaming copies; ``files`` defines ``FlyteFile`` and
``FlyteDirectory`` and their type transformer.
"""
