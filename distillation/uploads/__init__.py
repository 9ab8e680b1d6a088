"""Uploaded teachers and data sets: receiving, sniffing, validating and storing untrusted files.

The type comes from the content (magic bytes), never from the name; the user's file name never
becomes a path (each upload lives in ``uploads/<kind>/<uuid>/`` under MEDIA_ROOT, with fixed
names inside). Nothing here unpickles, imports or executes anything from an upload: pickles are
recognised and scanned by their opcodes (``pickletools`` only parses); PyTorch weights in a model
folder are converted to safetensors by ``prsm.engine.safe_convert`` (``weights_only``, in a
confined process) and only the copy is kept; ONNX files are parsed and checked in the same kind of
confined process (``prsm.engine.untrusted.sandbox``); archives are checked before a byte is
extracted. A pickle whose scan finds a forbidden import carries those imports on its UploadError,
for the moderators' queue.

- ``errors``: UploadError, UploadTooLarge
- ``storage``: where uploads live, receiving the bytes, extracting archives, discarding
- ``sniffing``: what a file is, from its bytes
- ``pickles``: scanning pickles and converting PyTorch weights in a model folder
- ``teachers``: a teacher file or folder checked and laid out; the ONNX check; loading in the worker
- ``datasets``: a data file or image archive checked with the engine's loaders
- ``reads``: the user's own uploads
"""

from .datasets import StoredDataset, dataset_store
from .errors import UploadError, UploadTooLarge
from .reads import dataset_of, datasets_of, teacher_of, teachers_of
from .sniffing import is_pickle, sniff
from .storage import Received, discard, media_path, receive, relative_to_media, upload_folder
from .teachers import StoredTeacher, onnx_check, teacher_load, teacher_store

__all__ = ["Received", "StoredDataset", "StoredTeacher", "UploadError", "UploadTooLarge", "dataset_of",
           "dataset_store", "datasets_of", "discard", "is_pickle", "media_path", "onnx_check", "receive",
           "relative_to_media", "sniff", "teacher_load", "teacher_of", "teacher_store", "teachers_of", "upload_folder"]
