"""Files from someone else: what kind a file is (``kinds``), and the one confined child process
that every step reading such a file runs in (``sandbox``, with ``child`` as the child's side).

The ONNX check of an upload and the pickle-to-safetensors conversion both run through
``sandbox.run_confined``; a new step that must open an untrusted file runs there too.
"""
