"""Export format names that several layers read without loading a backend (and torch with it)."""

# the TensorFlow backend's formats: a request naming one gets that backend (for text, an embedding-bag student)
TENSORFLOW_FORMATS = ("keras", "savedmodel", "tflite", "tflite-float16", "tflite-int8")
