"""Export format names that several layers read without loading a backend (and torch with it)."""

# the TensorFlow backend's formats: a request naming one gets that backend (for text, an embedding-bag student)
TENSORFLOW_FORMATS = ("keras", "savedmodel", "tflite", "tflite-float16", "tflite-int8")


def with_mobile_file(exports: list[str]) -> list[str]:
    """``exports`` for a mobile target: TensorFlow's formats only (the student is a Keras model), and
    the int8 TFLite file the phone runs always among them; ValueError naming any other format."""
    if other := [f for f in exports if f not in TENSORFLOW_FORMATS]:
        raise ValueError(f"target_hardware: a mobile student is a Keras model exported as TFLite; export format "
                         f"{other[0]!r} is not one of its formats ({', '.join(TENSORFLOW_FORMATS)})")
    return exports if "tflite-int8" in exports else [*exports, "tflite-int8"]
